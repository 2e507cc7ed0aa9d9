package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"userimages/core"

	"github.com/userimages/userimages/client/api"
)

// maxJSONBody caps the JSON bodies of the API; ours are tiny.
const maxJSONBody = 64 << 10

// decode reads r's body into req, one of the api request types, whose
// UnmarshalJSON checks each property. The body is read whatever its
// Content-Type says (curl's -d sends a form type); an empty body is an
// empty object.
func decode(w http.ResponseWriter, r *http.Request, req json.Unmarshaler) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return core.Errorf(api.CodeBodyTooLarge, "the request body is over %d bytes", maxJSONBody)
	}
	if err != nil {
		return core.Errorf(api.CodeInvalidJSON, "the request body could not be read")
	}
	return decodeBody(body, req)
}

// decodeBody decodes body into req, answering a body that is not one JSON
// object with InvalidJSON and a bad property with its code and pointer.
func decodeBody(body []byte, req json.Unmarshaler) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	err := json.Unmarshal(body, req)
	var bad *api.DecodeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &bad) && bad.Property != "":
		return &core.Error{Code: bad.Code, Message: bad.Message, Field: bad.Property}
	default: // not JSON, or not an object
		return core.Errorf(api.CodeInvalidJSON, "the request body must be a JSON object")
	}
}
