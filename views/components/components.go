// Package components holds small reusable pieces of the pages: form fields
// with inline errors, empty states and copy buttons.
package components

import "github.com/a-h/templ"

// Field describes one labelled form input.
type Field struct {
	Name         string // form field name; also the element id
	Label        string
	Type         string // text, email, password, number, url…
	Value        string
	Error        string
	Help         string
	Placeholder  string
	Required     bool
	Autocomplete string
	Attrs        templ.Attributes
}

// Describedby returns the ids that describe the input (help and error text).
func (f Field) Describedby() string {
	s := ""
	if f.Help != "" {
		s = f.Name + "-help"
	}
	if f.Error != "" {
		if s != "" {
			s += " "
		}
		s += f.Name + "-error"
	}
	return s
}

// InputType returns the input type, defaulting to text.
func (f Field) InputType() string {
	if f.Type == "" {
		return "text"
	}
	return f.Type
}
