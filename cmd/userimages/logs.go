package main

import (
	"log/slog"

	"userimages/core"
)

// logOptions are the options of every logger the commands make: no
// upload token is written whole (see redactTokens).
func logOptions() *slog.HandlerOptions { return &slog.HandlerOptions{ReplaceAttr: redactTokens} }

// redactTokens cuts the upload tokens in a log attribute's text to their
// time: errors name the upload they are about ("claim 01J…: …", "put
// staging/01J…: …"), and whoever reads the log could otherwise claim it.
func redactTokens(_ []string, a slog.Attr) slog.Attr {
	switch v := a.Value; v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(core.RedactTokens(v.String()))
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			a.Value = slog.StringValue(core.RedactTokens(err.Error()))
		}
	}
	return a
}
