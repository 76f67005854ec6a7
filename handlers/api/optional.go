package api

import (
	"bytes"
	"encoding/json"

	"till/handlers/render"
)

// optional is a JSON field that distinguishes absent, null and a value:
// PATCH bodies need all three.
type optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// UnmarshalJSON records presence and null-ness.
func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(bytes.TrimSpace(b)) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// number is a JSON field that must be a JSON number (not a string); its
// text is kept exactly so no amount passes through a float.
type number struct {
	Text string
}

// UnmarshalJSON accepts only a number token.
func (n *number) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] == '"' || b[0] == '{' || b[0] == '[' || b[0] == 't' || b[0] == 'f' {
		return &render.FieldError{Msg: "amount must be a number"}
	}
	if string(b) == "null" {
		return nil
	}
	n.Text = string(b)
	return nil
}
