package api

import (
	"net/url"
	"strings"
)

// Route is one route of the API in net/http's pattern syntax, "METHOD
// /path", where a {name} segment is a wildcard: the server registers it as
// it is, and clients take its Method and fill its Path.
type Route string

// Routes of a userimages server. Zendesk's help center has the first three
// and RouteMe; the others are userimages' own.
const (
	RouteCreateUpload Route = "POST /api/v2/guide/user_images/uploads"      // step 1: CreateUploadRequest
	RouteClaim        Route = "POST /api/v2/guide/user_images"              // step 3: ClaimRequest
	RouteImage        Route = "GET /hc/user_images/{file}"                  // a published image; {file} is <id>.<ext>
	RouteMe           Route = "GET /api/v2/users/me"                        // UserResponse
	RouteDeleteImage  Route = "DELETE /api/v2/guide/user_images/{id}"       // admins take an image down; query PropBlock, PropAllCopies, PropReason
	RouteReport       Route = "POST /api/v2/guide/user_images/{id}/reports" // ReportRequest
	RouteHealth       Route = "GET /healthz"                                // StatusResponse: the process answers
	RouteReady        Route = "GET /readyz"                                 // StatusResponse: the stores answer
	RouteOpenAPI      Route = "GET /api/openapi.json"                       // the OpenAPI document of these routes
)

// Routes returns every route of the API.
func Routes() []Route {
	return []Route{RouteCreateUpload, RouteClaim, RouteImage, RouteMe, RouteDeleteImage, RouteReport, RouteHealth, RouteReady, RouteOpenAPI}
}

// Method returns r's HTTP method.
func (r Route) Method() string {
	method, _, _ := strings.Cut(string(r), " ")
	return method
}

// Path returns r's path with its wildcards filled, in order, by segments,
// each escaped as one path segment; wildcards left unfilled stay as the
// pattern writes them ({name}). It panics when given more segments than r
// has wildcards: a mistake of the caller's code.
func (r Route) Path(segments ...string) string {
	_, path, _ := strings.Cut(string(r), " ")
	for _, seg := range segments {
		open := strings.IndexByte(path, '{')
		end := strings.IndexByte(path[open+1:], '}')
		if open < 0 || end < 0 {
			panic("api: more segments than wildcards in " + string(r))
		}
		path = path[:open] + url.PathEscape(seg) + path[open+1+end+1:]
	}
	return path
}

// Property names a property of a request: of its JSON body, or a
// parameter of its query. An error about it points at it (ErrorSource).
type Property string

// Properties of the API's requests.
const (
	PropContentType Property = "content_type" // CreateUploadRequest
	PropFileSize    Property = "file_size"    // CreateUploadRequest
	PropToken       Property = "token"        // ClaimRequest
	PropBrandID     Property = "brand_id"     // ClaimRequest
	PropReason      Property = "reason"       // ReportRequest; the query of RouteDeleteImage
	PropDetail      Property = "detail"       // ReportRequest
	PropBlock       Property = "block"        // the query of RouteDeleteImage: true or false
	PropAllCopies   Property = "all_copies"   // the query of RouteDeleteImage: true or false
)

// Properties returns every property of the API's requests.
func Properties() []Property {
	return []Property{PropContentType, PropFileSize, PropToken, PropBrandID, PropReason, PropDetail, PropBlock, PropAllCopies}
}

// Pointer returns p's JSON pointer, as an error's source names it:
// "/file_size".
func (p Property) Pointer() string { return "/" + string(p) }
