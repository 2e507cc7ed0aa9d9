package config

import "testing"

type field string

func TestDescribe(t *testing.T) {
	flags := map[any]string{field("MaxSize"): "--max-size", field("MinSize"): "--min-size"}
	flag := func(f any) string { return flags[f] }
	for _, tc := range []struct {
		err       *FieldError
		want, cli string
	}{
		{Invalid(field("MaxSize"), -1, "must be positive"), "MaxSize -1: must be positive", "--max-size -1: must be positive"},
		{Invalid(field("MaxSize"), "x", "want a number"), `MaxSize "x": want a number`, `--max-size "x": want a number`},
		{Related(field("MaxSize"), 1, "must be at least", field("MinSize"), 2), "MaxSize 1: must be at least MinSize 2", "--max-size 1: must be at least --min-size 2"},
		{&FieldError{Field: field("MaxSize"), Rule: "needs {other} too", Other: field("MinSize")}, "MaxSize needs MinSize too", "--max-size needs --min-size too"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error: got %q, want %q", got, tc.want)
		}
		if got := tc.err.Describe(flag); got != tc.cli {
			t.Errorf("Describe: got %q, want %q", got, tc.cli)
		}
	}
}
