package core

import (
	"context"
	"errors"

	"github.com/userimages/userimages/client/api"
)

// Brands registers the brands images may be claimed for: a use case of
// its own, so that Accounts keeps to users, tokens and authentication.
type Brands struct {
	registry BrandRegistry
}

// NewBrands returns Brands, or an error if the registry is missing.
func NewBrands(registry BrandRegistry) (*Brands, error) {
	if registry == nil {
		return nil, errors.New("new brands: a BrandRegistry is required")
	}
	return &Brands{registry: registry}, nil
}

// AddBrand registers a brand id; api.CodeInvalidProperty if it is not one.
func (b *Brands) AddBrand(ctx context.Context, id string) error {
	if !validBrandID(id) {
		return Errorf(api.CodeInvalidProperty, "brand id %q must be 1 to 64 letters, digits, '-' or '_'", id)
	}
	return b.registry.AddBrand(ctx, id)
}

// Brands lists the registered brand ids.
func (b *Brands) Brands(ctx context.Context) ([]string, error) { return b.registry.Brands(ctx) }
