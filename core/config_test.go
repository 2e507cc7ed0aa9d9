package core

import (
	"errors"
	"testing"
	"time"

	"userimages/internal/config"
)

// TestConfigValidateField: Validate names the refused field as a typed
// value, the one a command maps to its flag.
func TestConfigValidateField(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want ConfigField
	}{
		{Config{MaxFileSize: -1}, ConfigMaxFileSize},
		{Config{UploadURLTTL: time.Millisecond}, ConfigUploadURLTTL},
		{Config{ClaimWindow: time.Minute}, ConfigClaimWindow},
		{Config{SessionIdle: time.Second}, ConfigSessionIdle},
		{Config{SessionIdle: 2 * time.Hour, SessionMaxAge: time.Hour}, ConfigSessionMaxAge},
		{Config{MinFreeSpace: -1}, ConfigMinFreeSpace},
		{Config{MaxSide: -1}, ConfigMaxSide},
		{Config{VariantMemory: 1 << 10}, ConfigVariantMemory},
		{Config{VariantWidths: []int{0}}, ConfigVariantWidths},
		{Config{VariantPregenerate: []Variant{{Width: 7, Format: VariantFormats()[0]}}}, ConfigVariantPregenerate},
		{Config{ContentTypes: []string{"image/svg+xml"}}, ConfigContentTypes},
		{Config{ServerSideEncryption: "AES128"}, ConfigServerSideEncryption},
		{Config{PasswordCost: 99}, ConfigPasswordCost},
	} {
		var fe *config.FieldError
		if err := tt.cfg.Validate(); !errors.As(err, &fe) || fe.Field != tt.want {
			t.Errorf("%+v: got %v, want a field error of %s", tt.cfg, err, tt.want)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero Config: got %v, want the defaults accepted", err)
	}
}
