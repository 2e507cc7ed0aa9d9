package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/userimages/userimages/client/api"

	"userimages/claimhook"
	"userimages/httpapi"
	"userimages/selfsign"
)

// notOverHTTP lists the codes no HTTP request can get, and why. Every other
// code in api.Codes() must be got by some case of TestResponsesMatchOpenAPI.
var notOverHTTP = map[api.Code]string{
	api.CodeConflict:      "only admin commands (user add, brand add) return it; no HTTP route creates users or brands",
	api.CodeInternalError: "only a bug answers it: every fault of a store is StorageUnavailable or InsufficientStorage, and no request is known to cause one",
}

// docURL names openapi.json as a schema resource; nothing is fetched from it.
const docURL = "https://userimages.example/openapi.json"

// apiDoc is openapi.json, decoded, with a JSON Schema compiler that has the
// whole document as one resource, so that the schema at any JSON pointer
// compiles with its #/components/schemas/… references resolved.
type apiDoc struct {
	raw      []byte
	root     map[string]any
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema // by JSON pointer
}

func loadDoc(t *testing.T) *apiDoc {
	t.Helper()
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	d := &apiDoc{raw: raw, compiler: jsonschema.NewCompiler(), schemas: map[string]*jsonschema.Schema{}}
	if err := json.Unmarshal(raw, &d.root); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	res, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	d.compiler.DefaultDraft(jsonschema.Draft2020)
	d.compiler.AssertFormat()
	if err := d.compiler.AddResource(docURL, res); err != nil {
		t.Fatalf("openapi.json as a schema resource: %v", err)
	}
	return d
}

var (
	pointerEscaper   = strings.NewReplacer("~", "~0", "/", "~1")
	pointerUnescaper = strings.NewReplacer("~1", "/", "~0", "~")
)

// pointer joins tokens into a JSON pointer.
func pointer(tokens ...string) string {
	var b strings.Builder
	for _, tok := range tokens {
		b.WriteString("/" + pointerEscaper.Replace(tok))
	}
	return b.String()
}

// at returns the value at JSON pointer p, or nil.
func (d *apiDoc) at(p string) any {
	var v any = d.root
	if p == "" {
		return v
	}
	for _, tok := range strings.Split(p[1:], "/") {
		tok = pointerUnescaper.Replace(tok)
		switch c := v.(type) {
		case map[string]any:
			v = c[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			v = c[i]
		default:
			return nil
		}
	}
	return v
}

// object returns the OpenAPI object at p, following Reference objects, and
// the pointer it was found at; nil if there is none.
func (d *apiDoc) object(p string) (map[string]any, string) {
	for range 8 {
		m, _ := d.at(p).(map[string]any)
		ref, isRef := m["$ref"].(string)
		if !isRef {
			return m, p
		}
		p = strings.TrimPrefix(ref, "#")
	}
	return nil, p
}

// schema compiles the schema at JSON pointer p.
func (d *apiDoc) schema(p string) (*jsonschema.Schema, error) {
	if sch, ok := d.schemas[p]; ok {
		return sch, nil
	}
	var frag strings.Builder
	for _, tok := range strings.Split(p, "/")[1:] {
		frag.WriteString("/" + url.PathEscape(tok))
	}
	sch, err := d.compiler.Compile(docURL + "#" + frag.String())
	if err != nil {
		return nil, fmt.Errorf("compile the schema at %s: %w", p, err)
	}
	d.schemas[p] = sch
	return sch, nil
}

// validate validates inst against the schema at JSON pointer p.
func (d *apiDoc) validate(p string, inst any) error {
	sch, err := d.schema(p)
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

// validateText validates a header or parameter value against the schema at
// p, read as the schema's type says.
func (d *apiDoc) validateText(p, value string) error {
	sch, _ := d.at(p).(map[string]any)
	var inst any = value
	switch sch["type"] {
	case "integer":
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", value)
		}
		inst = json.Number(strconv.FormatInt(n, 10))
	case "boolean":
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("%q is not a boolean", value)
		}
		inst = b
	}
	return d.validate(p, inst)
}

var methods = []string{"get", "head", "post", "put", "delete", "patch", "options", "trace"}

// operations lists the documented operations as "METHOD /path".
func (d *apiDoc) operations() []string {
	var ops []string
	for path, item := range d.root["paths"].(map[string]any) {
		for _, m := range methods {
			if _, ok := item.(map[string]any)[m]; ok {
				ops = append(ops, strings.ToUpper(m)+" "+path)
			}
		}
	}
	sort.Strings(ops)
	return ops
}

// match returns the documented path a request path falls under: of the
// templates that match it, the most literal one (a literal segment counts
// more than a parameter with a literal suffix, such as {id}.json, which
// counts more than a bare parameter).
func (d *apiDoc) match(path string) (string, bool) {
	segs := strings.Split(path, "/")
	best, bestScore := "", -1
	for tmpl := range d.root["paths"].(map[string]any) {
		ts := strings.Split(tmpl, "/")
		if len(ts) != len(segs) {
			continue
		}
		score, ok := 0, true
		for i, s := range ts {
			if strings.HasPrefix(s, "{") {
				_, suffix, _ := strings.Cut(s, "}")
				rest, hasSuffix := strings.CutSuffix(segs[i], suffix)
				ok = ok && hasSuffix && rest != ""
				if suffix != "" {
					score++
				}
				continue
			}
			ok = ok && s == segs[i]
			score += 2
		}
		if ok && score > bestScore {
			best, bestScore = tmpl, score
		}
	}
	return best, bestScore >= 0
}

// aliasOf returns the path a .json alias path item refers to ("" if tmpl
// is not an alias).
func (d *apiDoc) aliasOf(tmpl string) string {
	ref, _ := d.at(pointer("paths", tmpl, "$ref")).(string)
	target, ok := strings.CutPrefix(ref, "#/paths/")
	if !ok {
		return ""
	}
	return pointerUnescaper.Replace(target)
}

// exchange is a request sent to the server and its response.
type exchange struct {
	req  *http.Request
	body []byte // of the request
	res  response
}

// checked is what checking an exchange found: the operation that answered
// ("METHOD /path", or what stands for an undocumented request) and the
// error codes in the body.
type checked struct {
	op    string
	codes []api.Code
}

// check validates an exchange against the document: the status must be
// documented for the operation, the headers it marks required must be
// there and every documented header must match its schema, the body must
// match the schema of its media type, and each error code must be listed
// in the response's x-codes. A successful exchange's request must match
// the operation's parameters and request body too.
func (d *apiDoc) check(x exchange) (checked, []string) {
	var out checked
	var problems []string
	fail := func(format string, args ...any) {
		problems = append(problems, out.op+": "+fmt.Sprintf(format, args...))
	}
	status := strconv.Itoa(x.res.status)
	method := strings.ToLower(x.req.Method)
	path := x.req.URL.Path
	tmpl, known := d.match(path)
	if target := d.aliasOf(tmpl); known && target != "" {
		// A .json alias is served, and checked, as its route.
		tmpl, path = target, strings.TrimSuffix(path, ".json")
	}
	var opPtr, respPtr string
	switch {
	case !known:
		out.op = "unknown path " + x.req.URL.Path
		respPtr = "/components/responses/NotFound"
		if status != "404" {
			fail("got status %s, want the NotFound response, 404", status)
			return out, problems
		}
	case d.at(pointer("paths", tmpl, method)) == nil:
		out.op = strings.ToUpper(method) + " " + tmpl + " (undocumented method)"
		respPtr = "/components/responses/MethodNotAllowed"
		if status != "405" {
			fail("got status %s, want the MethodNotAllowed response, 405", status)
			return out, problems
		}
	default:
		out.op = strings.ToUpper(method) + " " + tmpl
		opPtr = pointer("paths", tmpl, method)
		respPtr = opPtr + pointer("responses", status)
	}
	resp, respPtr := d.object(respPtr)
	if resp == nil {
		fail("status %s is not documented (body %.200s)", status, x.res.body)
		return out, problems
	}

	headers, _ := resp["headers"].(map[string]any)
	for name := range headers {
		h, hp := d.object(respPtr + pointer("headers", name))
		values, present := x.res.header[http.CanonicalHeaderKey(name)]
		if !present {
			if required, _ := h["required"].(bool); required {
				fail("status %s: required header %s is missing", status, name)
			}
			continue
		}
		if err := d.validateText(hp+"/schema", values[0]); err != nil {
			fail("status %s: header %s: %v", status, name, err)
		}
	}

	content, _ := resp["content"].(map[string]any)
	var mediaType string
	switch {
	case x.req.Method == http.MethodHead || x.res.status == http.StatusNotModified:
		if len(x.res.body) != 0 {
			fail("status %s: got a body", status)
		}
	case content == nil:
		if len(x.res.body) != 0 {
			fail("status %s: got a body %.200q, and none is documented", status, x.res.body)
		}
	default:
		mediaType, _, _ = mime.ParseMediaType(x.res.header.Get("Content-Type"))
		if _, ok := content[mediaType]; !ok {
			fail("status %s: Content-Type %q is not documented", status, x.res.header.Get("Content-Type"))
			break
		}
		if len(x.res.body) == 0 {
			fail("status %s: got an empty body", status)
		}
		schemaPtr := respPtr + pointer("content", mediaType, "schema")
		if d.at(schemaPtr) == nil {
			break
		}
		var inst any = string(x.res.body)
		if mediaType == "application/json" {
			var err error
			if inst, err = jsonschema.UnmarshalJSON(bytes.NewReader(x.res.body)); err != nil {
				fail("status %s: body is not JSON: %v", status, err)
				break
			}
			out.codes = bodyCodes(x.res.body)
		}
		if err := d.validate(schemaPtr, inst); err != nil {
			fail("status %s: body %.300s does not match the schema:\n%v", status, x.res.body, err)
		}
	}
	xcodes := stringList(resp["x-codes"])
	for _, c := range out.codes {
		if !slices.Contains(xcodes, string(c)) {
			fail("status %s: error code %s is not in the response's x-codes %v", status, c, xcodes)
		}
	}
	if len(xcodes) > 0 && mediaType == "application/json" && len(out.codes) == 0 {
		fail("status %s: the response lists error codes, the body %.200s has none", status, x.res.body)
	}

	if opPtr != "" && x.res.status < 300 {
		problems = append(problems, d.checkRequest(out.op, opPtr, tmpl, path, x)...)
	}
	return out, problems
}

// checkRequest validates a request that succeeded against its operation's
// parameters and request body.
func (d *apiDoc) checkRequest(op, opPtr, tmpl, path string, x exchange) []string {
	var problems []string
	fail := func(format string, args ...any) {
		problems = append(problems, op+": request: "+fmt.Sprintf(format, args...))
	}
	var params []string
	for _, owner := range []string{pointer("paths", tmpl), opPtr} {
		list, _ := d.at(owner + "/parameters").([]any)
		for i := range list {
			params = append(params, owner+"/parameters/"+strconv.Itoa(i))
		}
	}
	segs, tsegs := strings.Split(path, "/"), strings.Split(tmpl, "/")
	for _, pp := range params {
		p, pp := d.object(pp)
		name, _ := p["name"].(string)
		var value string
		var present bool
		switch p["in"] {
		case "path":
			i := slices.Index(tsegs, "{"+name+"}")
			present = i >= 0
			if present {
				value = segs[i]
			}
		case "query":
			q := x.req.URL.Query()
			value, present = q.Get(name), q.Has(name)
		case "header":
			value = x.req.Header.Get(name)
			present = value != ""
		default:
			fail("parameter %s: unexpected location %v", name, p["in"])
			continue
		}
		if !present {
			if required, _ := p["required"].(bool); required {
				fail("required parameter %s is missing", name)
			}
			continue
		}
		if err := d.validateText(pp+"/schema", value); err != nil {
			fail("parameter %s: %v", name, err)
		}
	}
	body, bodyPtr := d.object(opPtr + "/requestBody")
	if body == nil {
		return problems
	}
	if required, _ := body["required"].(bool); required && len(x.body) == 0 {
		fail("the request body is required")
	}
	content, _ := body["content"].(map[string]any)
	mediaType, _, _ := mime.ParseMediaType(x.req.Header.Get("Content-Type"))
	if _, ok := content["application/json"]; ok && mediaType == "" {
		mediaType = "application/json" // the body is read as JSON whatever its type
	}
	if _, ok := content[mediaType]; !ok {
		fail("Content-Type %q is not documented", x.req.Header.Get("Content-Type"))
		return problems
	}
	schemaPtr := bodyPtr + pointer("content", mediaType, "schema")
	if d.at(schemaPtr) == nil || mediaType != "application/json" {
		return problems
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(x.body))
	if err != nil {
		fail("the body is not JSON: %v", err)
	} else if err := d.validate(schemaPtr, inst); err != nil {
		fail("the body %.300s does not match the schema:\n%v", x.body, err)
	}
	return problems
}

func stringList(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, s := range list {
		if s, ok := s.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func bodyCodes(body []byte) []api.Code {
	var b struct {
		Errors []struct{ Code api.Code } `json:"errors"`
	}
	json.Unmarshal(body, &b)
	var codes []api.Code
	for _, e := range b.Errors {
		codes = append(codes, e.Code)
	}
	return codes
}

// send sends req without following redirects and records the exchange.
func send(t *testing.T, e *env, req *http.Request) exchange {
	t.Helper()
	var body []byte
	if req.GetBody != nil {
		rc, err := req.GetBody()
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(rc)
	}
	client := &http.Client{
		Transport:     e.srv.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	resBody, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return exchange{req: req, body: body, res: response{res.StatusCode, res.Header, resBody}}
}

func TestOpenAPIDocument(t *testing.T) {
	d := loadDoc(t)
	if v, _ := d.root["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi: got %q, want 3.1.x", v)
	}
	for _, k := range []string{"info", "paths", "components"} {
		if _, ok := d.root[k].(map[string]any); !ok {
			t.Errorf("no %s object", k)
		}
	}

	// The code enum is api.Codes().
	enum := stringList(d.at("/components/schemas/ErrorCode/enum"))
	var codes []string
	for _, ci := range api.Codes() {
		c := ci.Code
		codes = append(codes, string(c))
	}
	if !slices.Equal(enum, codes) {
		t.Errorf("ErrorCode enum:\n got %v\nwant %v (api.Codes())", enum, codes)
	}

	// ErrorItem ties each code to its status, as httpapi does.
	tied := map[string]string{}
	for _, branch := range d.at("/components/schemas/ErrorItem/allOf").([]any) {
		b, _ := json.Marshal(branch)
		var s struct {
			If struct {
				Properties struct {
					Code struct{ Const string } `json:"code"`
				} `json:"properties"`
			} `json:"if"`
			Then struct {
				Properties struct {
					Status struct{ Const string } `json:"status"`
					Title  struct{ Const string } `json:"title"`
				} `json:"properties"`
			} `json:"then"`
		}
		json.Unmarshal(b, &s)
		tied[s.If.Properties.Code.Const] = s.Then.Properties.Status.Const
		if s.Then.Properties.Title.Const == "" {
			t.Errorf("ErrorItem: %s has no title", s.If.Properties.Code.Const)
		}
	}
	for _, ci := range api.Codes() {
		c := ci.Code
		if got, want := tied[string(c)], strconv.Itoa(httpapi.StatusOf(c)); got != want {
			t.Errorf("ErrorItem: %s has status %q, want %q", c, got, want)
		}
	}
	if len(tied) != len(api.Codes()) {
		t.Errorf("ErrorItem: got %d codes tied to statuses, want %d", len(tied), len(api.Codes()))
	}

	// Every error response lists codes of its status; every code that HTTP
	// can return is listed by some response.
	listed := map[api.Code]bool{}
	checkCodes := func(where, respPtr, status string) {
		resp, _ := d.object(respPtr)
		if resp == nil {
			t.Errorf("%s: no response object at %s", where, respPtr)
			return
		}
		if desc, _ := resp["description"].(string); desc == "" {
			t.Errorf("%s: no description", where)
		}
		for _, c := range stringList(resp["x-codes"]) {
			listed[api.Code(c)] = true
			if got := strconv.Itoa(httpapi.StatusOf(api.Code(c))); got != status || !slices.Contains(codes, c) {
				t.Errorf("%s: x-codes lists %s, whose status is %s", where, c, got)
			}
		}
		if n, _ := strconv.Atoi(status); n >= 400 && resp["x-codes"] == nil {
			if _, isError := d.at(respPtr + pointer("content", "application/json")).(map[string]any); isError {
				t.Errorf("%s: a JSON error response without x-codes", where)
			}
		}
	}
	for _, op := range d.operations() {
		method, path, _ := strings.Cut(op, " ")
		opPtr := pointer("paths", path, strings.ToLower(method))
		responses, _ := d.at(opPtr + "/responses").(map[string]any)
		if len(responses) == 0 {
			t.Errorf("%s: no responses", op)
		}
		for status := range responses {
			checkCodes(op+" "+status, opPtr+pointer("responses", status), status)
		}
		if _, ok := d.at(opPtr + "/security").([]any); !ok {
			t.Errorf("%s: no security requirement (use [] for none)", op)
		}
	}
	checkCodes("NotFound response", "/components/responses/NotFound", "404")
	checkCodes("MethodNotAllowed response", "/components/responses/MethodNotAllowed", "405")
	for _, ci := range api.Codes() {
		c := ci.Code
		if why, ok := notOverHTTP[c]; ok {
			if listed[c] {
				t.Errorf("%s: listed by a response, but notOverHTTP says %s", c, why)
			}
		} else if !listed[c] {
			t.Errorf("%s: no response lists it", c)
		}
	}

	// Every schema in the document compiles.
	for name := range d.at("/components/schemas").(map[string]any) {
		if _, err := d.schema(pointer("components", "schemas", name)); err != nil {
			t.Error(err)
		}
	}
}

// servedRoutes returns the patterns Handler registers, read from the
// package's source: the first argument of every route(…), mux.HandleFunc(…)
// and mux.Handle(…) call in the Handler method, outside function literals.
func servedRoutes(t *testing.T) []string {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	// The routes of the API are package api's constants, named api.X here.
	apiNames, err := filepath.Glob("../client/api/*.go")
	if err != nil || len(apiNames) == 0 {
		t.Fatalf("package api's source: got %v, %v", apiNames, err)
	}
	fset := token.NewFileSet()
	consts := map[string]string{}
	var handler *ast.FuncDecl
	for _, name := range append(names, apiNames...) {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		prefix := ""
		if strings.HasPrefix(name, "../") {
			prefix = "api."
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			switch decl := decl.(type) {
			case *ast.GenDecl:
				if decl.Tok != token.CONST {
					continue
				}
				for _, spec := range decl.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if i >= len(vs.Values) {
							continue
						}
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							consts[prefix+n.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			case *ast.FuncDecl:
				if decl.Name.Name == "Handler" && decl.Recv != nil {
					handler = decl
				}
			}
		}
	}
	if handler == nil {
		t.Fatal("no Handler method in the package's source")
	}
	var patterns []string
	ast.Inspect(handler.Body, func(n ast.Node) bool {
		if _, ok := n.(*ast.FuncLit); ok {
			return false // route's own body registers its argument
		}
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		switch fn := call.Fun.(type) {
		case *ast.Ident:
			if fn.Name != "route" {
				return true
			}
		case *ast.SelectorExpr:
			if x, ok := fn.X.(*ast.Ident); !ok || x.Name != "mux" || (fn.Sel.Name != "Handle" && fn.Sel.Name != "HandleFunc") {
				return true
			}
		default:
			return true
		}
		arg := call.Args[0]
		if conv, ok := arg.(*ast.CallExpr); ok && len(conv.Args) == 1 {
			if fn, ok := conv.Fun.(*ast.Ident); ok && fn.Name == "string" {
				arg = conv.Args[0] // string(api.RouteX)
			}
		}
		switch arg := arg.(type) {
		case *ast.BasicLit:
			s, _ := strconv.Unquote(arg.Value)
			patterns = append(patterns, s)
			return true
		case *ast.Ident:
			if s, ok := consts[arg.Name]; ok {
				patterns = append(patterns, s)
				return true
			}
		case *ast.SelectorExpr:
			if x, ok := arg.X.(*ast.Ident); ok {
				if s, ok := consts[x.Name+"."+arg.Sel.Name]; ok {
					patterns = append(patterns, s)
					return true
				}
			}
		case *ast.CallExpr:
			if sel, ok := arg.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "putPattern" {
				patterns = append(patterns, "PUT "+selfsign.PathPrefix+"{token}")
				return true
			}
			if sel, ok := arg.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "reviewPattern" {
				patterns = append(patterns, "GET "+claimhook.PathPrefix+"{file}")
				return true
			}
		}
		t.Errorf("%s: cannot read the route pattern; teach servedRoutes this form", fset.Position(call.Pos()))
		return true
	})
	return patterns
}

// TestOpenAPICoversEveryRoute checks that every route Handler registers is
// documented, and every documented operation is a route Handler registers.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	d := loadDoc(t)
	type route struct {
		method, path string
		subtree      bool // a pattern ending in "/" serves the paths below it
	}
	var routes []route
	for _, p := range servedRoutes(t) {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			if p != "/" {
				t.Errorf("Handler registers %q for every method; only the NotFound fallback / may", p)
			}
			continue // the NotFound fallback: #/components/responses/NotFound
		}
		r := route{method: method, path: strings.TrimSuffix(path, "{$}")}
		r.subtree = strings.HasSuffix(path, "/")
		routes = append(routes, r)
		if d.at(pointer("paths", r.path, strings.ToLower(method))) == nil {
			t.Errorf("Handler serves %s; openapi.json has no %s %s", p, method, r.path)
		}
	}
	if len(routes) < 10 {
		t.Fatalf("found %d routes in Handler, want at least 10: %v", len(routes), routes)
	}
	// Every .json alias refers to a documented route under /api/v2/, as
	// the path with .json appended.
	aliases := 0
	for path := range d.root["paths"].(map[string]any) {
		target := d.aliasOf(path)
		if target == "" {
			continue
		}
		aliases++
		if _, ok := d.at(pointer("paths", target)).(map[string]any); !ok || d.aliasOf(target) != "" || path != target+".json" || !strings.HasPrefix(path, "/api/v2/") {
			t.Errorf("openapi.json: alias %s refers to %q; want a documented route under /api/v2/ that is %s without .json", path, target, path)
		}
	}
	if aliases < 4 {
		t.Errorf("openapi.json: got %d .json aliases, want one for each Zendesk route (4)", aliases)
	}
	for _, op := range d.operations() {
		method, path, _ := strings.Cut(op, " ")
		if method == http.MethodHead {
			method = http.MethodGet // the ServeMux serves HEAD with GET's route
		}
		if !slices.ContainsFunc(routes, func(r route) bool {
			return r.method == method && (r.path == path || r.subtree && strings.HasPrefix(path, r.path))
		}) {
			t.Errorf("openapi.json documents %s, which Handler does not register", op)
		}
	}
}

func TestOpenAPIServedAsCheckedIn(t *testing.T) {
	want, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	res := e.do(e.request(http.MethodGet, "/api/openapi.json", nil))
	if res.status != http.StatusOK {
		t.Fatalf("GET /api/openapi.json: got %d %s, want 200", res.status, res.body)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type: got %q, want application/json", ct)
	}
	if !bytes.Equal(res.body, want) {
		t.Errorf("body: got %d bytes, want the %d bytes of openapi.json", len(res.body), len(want))
	}
}

// TestResponsesMatchOpenAPI drives a real server through every documented
// operation and every error code HTTP can return, and validates each
// response against the document (see apiDoc.check). Each case runs on a
// fresh server.
func TestResponsesMatchOpenAPI(t *testing.T) {
	d := loadDoc(t)
	cases := docCases(t)
	var mu sync.Mutex
	seenOps := map[string]bool{}
	seenStatuses := map[string]bool{}
	seenCodes := map[api.Code]string{}
	t.Run("case", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, func(cfg *httpapi.Config) {
					for _, f := range c.configure {
						f(t, cfg)
					}
				})
				x := send(t, e, c.req(t, e))
				mu.Lock()
				defer mu.Unlock()
				got, problems := d.check(x)
				t.Logf("%s → %d %v", got.op, x.res.status, got.codes)
				for _, p := range problems {
					t.Error(p)
				}
				seenOps[got.op] = true
				seenStatuses[got.op+" "+strconv.Itoa(x.res.status)] = true
				for _, code := range got.codes {
					seenCodes[code] = c.name
				}
			})
		}
	})

	for _, op := range d.operations() {
		if !seenOps[op] {
			t.Errorf("%s: no case exercised it", op)
			continue
		}
		method, path, _ := strings.Cut(op, " ")
		for status := range d.at(pointer("paths", path, strings.ToLower(method), "responses")).(map[string]any) {
			if !seenStatuses[op+" "+status] {
				t.Errorf("%s: no case got its documented %s", op, status)
			}
		}
	}
	for _, ci := range api.Codes() {
		c := ci.Code
		name, seen := seenCodes[c]
		why, unreachable := notOverHTTP[c]
		switch {
		case seen && unreachable:
			t.Errorf("%s: case %q got it, but notOverHTTP says %s", c, name, why)
		case !seen && !unreachable:
			t.Errorf("%s: no case got it; add one, or list it in notOverHTTP with the reason", c)
		}
	}
}
