package core

import (
	"fmt"
	"slices"
	"time"

	"github.com/userimages/userimages/client/api"
	"golang.org/x/crypto/bcrypt"

	"userimages/imagesafe"
	"userimages/variant"
)

// Defaults of Config, as documented in the README.
const (
	DefaultMaxFileSize  = 2_000_000
	DefaultUploadURLTTL = time.Hour
	DefaultClaimWindow  = 24 * time.Hour
	// DefaultServerSideEncryption is the X-Amz-Server-Side-Encryption
	// header upload URLs ask for, as Zendesk's do.
	DefaultServerSideEncryption = "AES256"
	// DefaultOrphanGrace is how old a stored image object without metadata
	// (left by a crash between storing and publishing) must be before the
	// sweeper deletes it.
	DefaultOrphanGrace = time.Hour
	// DefaultSessionIdle and DefaultSessionMaxAge bound a console session:
	// it ends after this long unused, and this long after sign-in at the
	// latest.
	DefaultSessionIdle   = 30 * time.Minute
	DefaultSessionMaxAge = 12 * time.Hour
)

// DefaultContentTypes are the image types accepted unless configured: the
// MIME types of api.Formats.
var DefaultContentTypes = func() []string {
	var cts []string
	for _, f := range api.Formats() {
		cts = append(cts, f.MIME)
	}
	return cts
}()

// Config is the upload policy. The zero value of each field means its default.
type Config struct {
	// MaxFileSize is the largest file_size accepted, in bytes. Default 2,000,000.
	MaxFileSize int64
	// ContentTypes are the accepted types, a subset of DefaultContentTypes.
	// Default: all of them.
	ContentTypes []string
	// UploadURLTTL is how long an upload URL accepts its PUT. Default 1 h.
	UploadURLTTL time.Duration
	// ClaimWindow is how long after creation an upload can be claimed; after
	// it the upload is swept. Default 24 h; must be at least UploadURLTTL.
	ClaimWindow time.Duration
	// OrphanGrace: see DefaultOrphanGrace.
	OrphanGrace time.Duration
	// KeepMetadata serves images with their EXIF, XMP, IPTC and comments.
	// Default false: metadata is stripped (the ICC profile and orientation
	// stay), so no photo leaks where it was taken.
	KeepMetadata bool
	// MaxPixels caps width × height. Default imagesafe.DefaultMaxPixels (50 MP).
	MaxPixels int64
	// MaxSide caps each of width and height. Default imagesafe.DefaultMaxSide.
	MaxSide int
	// ServerSideEncryption is the X-Amz-Server-Side-Encryption header that
	// upload URLs sign and return (AES256 or aws:kms). Default
	// DefaultServerSideEncryption; "none" leaves the header out, for object
	// stores that refuse it.
	ServerSideEncryption string
	// MinFreeSpace is the free space, in bytes, under which the local disk
	// (Stores.Disk) makes Ready fail, so that a load balancer sends uploads
	// elsewhere before the disk is full. Default room for 64 uploads of
	// MaxFileSize.
	MinFreeSpace int64
	// PasswordCost is the bcrypt cost of new password and API token hashes.
	// Default bcrypt.DefaultCost (10); tests may lower it to bcrypt.MinCost.
	PasswordCost int
	// SessionIdle and SessionMaxAge bound console sessions. Defaults
	// DefaultSessionIdle and DefaultSessionMaxAge.
	SessionIdle   time.Duration
	SessionMaxAge time.Duration

	// VariantWidths are the widths GET <path>?w=W serves (see
	// variant.go). Default DefaultVariantWidths.
	VariantWidths []int
	// VariantMemory is the budget, in bytes, of what variants being made
	// hold in memory at once. Default DefaultVariantMemory (256 MiB).
	VariantMemory int64
	// VariantWait is how long a variant waits for room in VariantMemory
	// before it is refused (503). Default DefaultVariantWait.
	VariantWait time.Duration
	// VariantPregenerate are made in the background when an image is
	// claimed. Default none: each is made on its first request.
	VariantPregenerate []Variant
}

// withDefaults returns c with zero fields set to their defaults, or an error
// naming the first invalid field.
func (c Config) withDefaults() (Config, error) {
	if c.MaxFileSize == 0 {
		c.MaxFileSize = DefaultMaxFileSize
	}
	if len(c.ContentTypes) == 0 {
		c.ContentTypes = DefaultContentTypes
	}
	if c.UploadURLTTL == 0 {
		c.UploadURLTTL = DefaultUploadURLTTL
	}
	if c.ClaimWindow == 0 {
		c.ClaimWindow = DefaultClaimWindow
	}
	if c.OrphanGrace == 0 {
		c.OrphanGrace = DefaultOrphanGrace
	}
	if c.MaxPixels == 0 {
		c.MaxPixels = imagesafe.DefaultMaxPixels
	}
	if c.MaxSide == 0 {
		c.MaxSide = imagesafe.DefaultMaxSide
	}
	if c.ServerSideEncryption == "" {
		c.ServerSideEncryption = DefaultServerSideEncryption
	}
	if c.MinFreeSpace == 0 {
		c.MinFreeSpace = 64 * c.MaxFileSize
	}
	if len(c.VariantWidths) == 0 {
		c.VariantWidths = DefaultVariantWidths
	}
	if c.VariantMemory == 0 {
		c.VariantMemory = DefaultVariantMemory
	}
	if c.VariantWait == 0 {
		c.VariantWait = DefaultVariantWait
	}
	if c.PasswordCost == 0 {
		c.PasswordCost = bcrypt.DefaultCost
	}
	if c.SessionIdle == 0 {
		c.SessionIdle = DefaultSessionIdle
	}
	if c.SessionMaxAge == 0 {
		c.SessionMaxAge = DefaultSessionMaxAge
	}
	switch {
	case c.SessionIdle < time.Minute || c.SessionMaxAge < c.SessionIdle:
		return c, fmt.Errorf("session idle %s, max age %s: idle must be at least 1m and max age at least idle", c.SessionIdle, c.SessionMaxAge)
	case c.MaxFileSize < 1:
		return c, fmt.Errorf("max file size %d: must be positive", c.MaxFileSize)
	case c.UploadURLTTL < time.Second || c.UploadURLTTL > 7*24*time.Hour:
		return c, fmt.Errorf("upload url ttl %s: must be between 1s and 7 days (the SigV4 limit)", c.UploadURLTTL)
	case c.ClaimWindow < c.UploadURLTTL:
		return c, fmt.Errorf("claim window %s: must be at least the upload url ttl %s", c.ClaimWindow, c.UploadURLTTL)
	case c.MinFreeSpace < 0:
		return c, fmt.Errorf("min free space %d: must not be negative", c.MinFreeSpace)
	case c.OrphanGrace < 0:
		return c, fmt.Errorf("orphan grace %s: must not be negative", c.OrphanGrace)
	case c.PasswordCost < bcrypt.MinCost || c.PasswordCost > bcrypt.MaxCost:
		return c, fmt.Errorf("password cost %d: must be between %d and %d", c.PasswordCost, bcrypt.MinCost, bcrypt.MaxCost)
	case c.ServerSideEncryption != "none" && c.ServerSideEncryption != "AES256" && c.ServerSideEncryption != "aws:kms":
		return c, fmt.Errorf("server-side encryption %q: want AES256, aws:kms or none", c.ServerSideEncryption)
	case c.MaxPixels < 1 || c.MaxSide < 1:
		return c, fmt.Errorf("pixel caps %d, %d: must be positive", c.MaxPixels, c.MaxSide)
	}
	if c.VariantMemory < 1<<20 {
		return c, fmt.Errorf("variant memory %d: must be at least 1 MiB", c.VariantMemory)
	}
	for _, w := range c.VariantWidths {
		if w < 1 || w > c.MaxSide {
			return c, fmt.Errorf("variant width %d: must be between 1 and %d", w, c.MaxSide)
		}
	}
	for _, v := range c.VariantPregenerate {
		if !slices.Contains(c.VariantWidths, v.Width) || !variant.Encodable(v.Format) {
			return c, fmt.Errorf("pregenerated variant %d %s: the width must be one of %v, the format JPEG, PNG or WebP", v.Width, v.Format.Name, c.VariantWidths)
		}
	}
	for _, ct := range c.ContentTypes {
		if _, ok := api.FormatOf(ct); !ok {
			return c, fmt.Errorf("content type %q: not one of %v", ct, DefaultContentTypes)
		}
	}
	return c, nil
}
