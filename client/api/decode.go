package api

import (
	"encoding/json"
	"errors"
	"strconv"
)

// DecodeError is why a request body was refused by the UnmarshalJSON of
// its type: the body is not a JSON object (Code CodeInvalidJSON, no
// Property), or Property is missing or malformed (Code says how).
type DecodeError struct {
	Code     Code
	Property Property
	// Message says what is wrong, in lower case, fit for an error's
	// detail: "file_size is required and must be a number".
	Message string
}

func (e *DecodeError) Error() string { return e.Message }

// UnmarshalJSON decodes a body of RouteCreateUpload as the server does:
// content_type a string, file_size an integer. Every error is a
// *DecodeError; a file_size too large for an int64 is CodeFileTooLarge.
func (r *CreateUploadRequest) UnmarshalJSON(data []byte) error {
	obj, err := decodeObject(data)
	if err != nil {
		return err
	}
	contentType, err := obj.string(PropContentType)
	if err != nil {
		return err
	}
	size, err := obj.fileSize()
	if err != nil {
		return err
	}
	*r = CreateUploadRequest{ContentType: contentType, FileSize: size}
	return nil
}

// UnmarshalJSON decodes a body of RouteClaim as the server does: token a
// string, brand_id a string or a non-negative integer (kept in decimal).
// Every error is a *DecodeError.
func (r *ClaimRequest) UnmarshalJSON(data []byte) error {
	obj, err := decodeObject(data)
	if err != nil {
		return err
	}
	token, err := obj.string(PropToken)
	if err != nil {
		return err
	}
	brand, err := obj.brandID()
	if err != nil {
		return err
	}
	*r = ClaimRequest{Token: token, BrandID: brand}
	return nil
}

// UnmarshalJSON decodes a body of RouteReport as the server does: reason
// a string, detail a string when it is sent. Every error is a
// *DecodeError.
func (r *ReportRequest) UnmarshalJSON(data []byte) error {
	obj, err := decodeObject(data)
	if err != nil {
		return err
	}
	reason, err := obj.string(PropReason)
	if err != nil {
		return err
	}
	detail := ""
	if _, ok := obj[PropDetail]; ok {
		if detail, err = obj.string(PropDetail); err != nil {
			return err
		}
	}
	*r = ReportRequest{Reason: reason, Detail: detail}
	return nil
}

// object is a request body's properties, undecoded. Names match exactly,
// not case-insensitively as encoding/json's struct fields would; of a
// property sent twice, the last counts.
type object map[Property]json.RawMessage

func decodeObject(data []byte) (object, error) {
	var obj object
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return nil, &DecodeError{Code: CodeInvalidJSON, Message: "the request body is not a JSON object"}
	}
	return obj, nil
}

func invalid(p Property, message string) *DecodeError {
	return &DecodeError{Code: CodeInvalidProperty, Property: p, Message: message}
}

// string returns obj[p], which must be a JSON string (null reads as "").
func (obj object) string(p Property) (string, error) {
	var s string
	raw, ok := obj[p]
	if !ok || json.Unmarshal(raw, &s) != nil {
		return "", invalid(p, string(p)+" is required and must be a string")
	}
	return s, nil
}

// fileSize returns file_size, which must be a JSON integer.
func (obj object) fileSize() (int64, error) {
	const p = PropFileSize
	raw, ok := obj[p]
	var num json.Number
	if !ok || json.Unmarshal(raw, &num) != nil || len(raw) == 0 || raw[0] == '"' {
		return 0, invalid(p, string(p)+" is required and must be a number")
	}
	n, err := strconv.ParseInt(num.String(), 10, 64)
	if errors.Is(err, strconv.ErrRange) && num.String()[0] != '-' {
		return 0, &DecodeError{Code: CodeFileTooLarge, Property: p, Message: string(p) + " is far over the limit"}
	}
	if err != nil {
		return 0, &DecodeError{Code: CodeInvalidFileSize, Property: p, Message: string(p) + " must be a whole number of bytes"}
	}
	return n, nil
}

// brandID returns brand_id, sent as a string (Zendesk's theme) or as a
// non-negative integer.
func (obj object) brandID() (string, error) {
	const p = PropBrandID
	raw, ok := obj[p]
	if ok && len(raw) > 0 && raw[0] >= '0' && raw[0] <= '9' {
		var n uint64
		if json.Unmarshal(raw, &n) != nil {
			return "", invalid(p, string(p)+" must be a string or a whole number")
		}
		return strconv.FormatUint(n, 10), nil
	}
	var s string
	if !ok || json.Unmarshal(raw, &s) != nil {
		return "", invalid(p, string(p)+" is required and must be a string or a whole number")
	}
	return s, nil
}
