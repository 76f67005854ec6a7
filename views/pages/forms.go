// Package pages holds the full pages and the data each one renders.
package pages

// Form carries submitted values and per-field errors back into a page.
type Form struct {
	Values map[string]string
	Errors map[string]string
	// Error is a message about the whole form.
	Error string
}

// V returns the submitted value of field.
func (f Form) V(field string) string { return f.Values[field] }

// E returns the error of field.
func (f Form) E(field string) string { return f.Errors[field] }
