package api

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
)

// DefaultMaxBodyBytes bounds request bodies when Config.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 64 << 10

// decodeJSON reads the request body as exactly one JSON value into v.
//
// It rejects, with a JSON error the caller passes to fail:
//   - a Content-Type that is present and not JSON (415);
//   - a body over maxBytes (413);
//   - an empty body, malformed JSON, a field v does not have, a value of
//     the wrong type, or anything after the value (400).
func decodeJSON(w http.ResponseWriter, r *http.Request, maxBytes int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSONMediaType(ct) {
		return errorf(http.StatusUnsupportedMediaType, codeUnsupportedMedia,
			"Content-Type must be application/json")
	}
	if r.ContentLength > maxBytes {
		return tooLarge(maxBytes)
	}
	return decodeJSONFrom(http.MaxBytesReader(w, r.Body, maxBytes), maxBytes, v)
}

// decodeJSONFrom is decodeJSON's decoding, from a body already limited.
func decodeJSONFrom(body io.Reader, maxBytes int64, v any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, maxBytes)
	}
	// Exactly one value: anything but whitespace after it is an error.
	var extra json.RawMessage
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
		return nil
	case err == nil:
		return errorf(http.StatusBadRequest, codeInvalidJSON, "unexpected data after the JSON value")
	default:
		if ae := decodeError(err, maxBytes); ae.status != http.StatusBadRequest {
			return ae
		}
		return errorf(http.StatusBadRequest, codeInvalidJSON, "unexpected data after the JSON value")
	}
}

// decodeError turns a json.Decoder error into a client error. Messages
// name the offending field or offset but never echo the body.
func decodeError(err error, maxBytes int64) *apiError {
	var (
		maxErr    *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &maxErr):
		return tooLarge(maxBytes)
	case errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, codeInvalidJSON, "request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(http.StatusBadRequest, codeInvalidJSON, "request body is truncated JSON")
	case errors.As(err, &syntaxErr):
		return errorf(http.StatusBadRequest, codeInvalidJSON, "malformed JSON at offset %d", syntaxErr.Offset)
	case errors.As(err, &typeErr):
		if typeErr.Field != "" {
			return errorf(http.StatusBadRequest, codeInvalidJSON, "field %q has the wrong type", typeErr.Field)
		}
		return errorf(http.StatusBadRequest, codeInvalidJSON, "request body must be a JSON object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for DisallowUnknownFields.
		return errorf(http.StatusBadRequest, codeInvalidJSON, "unknown field %s",
			strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return errorf(http.StatusBadRequest, codeInvalidJSON, "malformed JSON")
	}
}

func tooLarge(maxBytes int64) *apiError {
	return errorf(http.StatusRequestEntityTooLarge, codePayloadTooLarge,
		"request body exceeds %d bytes", maxBytes)
}

// isJSONMediaType accepts application/json and any +json type, with any
// parameters (charset).
func isJSONMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}
