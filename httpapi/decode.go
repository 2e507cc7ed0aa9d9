package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"userimages/core"

	"github.com/userimages/userimages/client/api"
)

// maxJSONBody caps the JSON bodies of the API; ours are tiny.
const maxJSONBody = 64 << 10

// readObject reads r's body as one JSON object, whatever its Content-Type
// says (curl's -d sends a form type). An empty body is an empty object.
func readObject(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, core.Errorf(api.CodeBodyTooLarge, "the request body is over %d bytes", maxJSONBody)
	}
	if err != nil {
		return nil, core.Errorf(api.CodeInvalidJSON, "the request body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return map[string]json.RawMessage{}, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return nil, core.Errorf(api.CodeInvalidJSON, "the request body must be a JSON object")
	}
	return obj, nil
}

func invalid(name, format string, args ...any) error {
	e := core.Errorf(api.CodeInvalidProperty, format, args...)
	e.Pointer = "/" + name
	return e
}

// stringProp returns obj[name], which must be a JSON string.
func stringProp(obj map[string]json.RawMessage, name string) (string, error) {
	var s string
	raw, ok := obj[name]
	if !ok || json.Unmarshal(raw, &s) != nil {
		return "", invalid(name, "%s is required and must be a string", name)
	}
	return s, nil
}

// fileSizeProp returns file_size, which must be a JSON integer.
func fileSizeProp(obj map[string]json.RawMessage) (int64, error) {
	const name = "file_size"
	raw, ok := obj[name]
	var num json.Number
	if !ok || json.Unmarshal(raw, &num) != nil || len(raw) == 0 || raw[0] == '"' {
		return 0, invalid(name, "%s is required and must be a number", name)
	}
	n, err := strconv.ParseInt(num.String(), 10, 64)
	if errors.Is(err, strconv.ErrRange) && num.String()[0] != '-' {
		e := core.Errorf(api.CodeFileTooLarge, "%s is far over the limit", name)
		e.Pointer = "/" + name
		return 0, e
	}
	if err != nil {
		e := core.Errorf(api.CodeInvalidFileSize, "%s must be a whole number of bytes", name)
		e.Pointer = "/" + name
		return 0, e
	}
	return n, nil
}

// brandProp returns brand_id, sent as a string (Zendesk's theme) or as a
// non-negative integer.
func brandProp(obj map[string]json.RawMessage) (string, error) {
	raw, ok := obj["brand_id"]
	if ok && len(raw) > 0 && raw[0] >= '0' && raw[0] <= '9' {
		var n uint64
		if json.Unmarshal(raw, &n) != nil {
			return "", invalid("brand_id", "brand_id must be a string or a whole number")
		}
		return strconv.FormatUint(n, 10), nil
	}
	var s string
	if !ok || json.Unmarshal(raw, &s) != nil {
		return "", invalid("brand_id", "brand_id is required and must be a string or a whole number")
	}
	return s, nil
}
