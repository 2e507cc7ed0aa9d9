// Package config is what the packages' Config.Validate methods return: the
// field refused, as a typed value (a constant of the package's own
// ConfigField type), so that a command can say which of its flags is wrong
// without restating the rule.
package config

import (
	"fmt"
	"strings"
)

// FieldError is a value of a Config field that its package refuses.
type FieldError struct {
	// Field is the refused field: a constant of its package's ConfigField
	// type, whose string is the field's Go name (e.g. core.ConfigMaxFileSize,
	// "MaxFileSize").
	Field any
	// Value is the refused value as written in messages; "" when the rule
	// is about the field being set at all.
	Value string
	// Rule says what the value must be. "{other}" in it stands for Other
	// and OtherValue; when it has none, they follow it.
	Rule string
	// Other, when not nil, is the field Rule relates Field to, and
	// OtherValue its value ("" to leave it out).
	Other      any
	OtherValue string
}

// Invalid returns the error of field's value v, which breaks rule: a
// string is quoted, anything else formatted with %v.
func Invalid(field, v any, rule string) *FieldError {
	return &FieldError{Field: field, Value: format(v), Rule: rule}
}

// Related returns the error of field's value v, which breaks rule with
// respect to the field other, whose value is otherValue.
func Related(field, v any, rule string, other, otherValue any) *FieldError {
	return &FieldError{Field: field, Value: format(v), Rule: rule, Other: other, OtherValue: format(otherValue)}
}

func format(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprint(v)
}

func (e *FieldError) Error() string {
	return e.Describe(func(field any) string { return fmt.Sprint(field) })
}

// Describe says what is wrong, naming each field by name(field): a
// command passes the names of its flags.
func (e *FieldError) Describe(name func(field any) string) string {
	var b strings.Builder
	b.WriteString(name(e.Field))
	if e.Value != "" {
		b.WriteString(" " + e.Value + ":")
	}
	rule := e.Rule
	if e.Other != nil {
		other := name(e.Other)
		if e.OtherValue != "" {
			other += " " + e.OtherValue
		}
		if strings.Contains(rule, "{other}") {
			rule = strings.ReplaceAll(rule, "{other}", other)
		} else {
			rule += " " + other
		}
	}
	b.WriteString(" " + rule)
	return b.String()
}
