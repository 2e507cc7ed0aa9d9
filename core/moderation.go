package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/userimages/userimages/client/api"
)

// Moderator returns the audit name of an authenticated admin, or
// api.CodeUnauthorized for anonymous callers and api.CodeForbidden for users who are
// not admins.
func (s *Service) Moderator(ctx context.Context, userID int64) (_ string, err error) {
	defer func() { err = storeFault(err) }()
	if userID == 0 {
		return "", Errorf(api.CodeUnauthorized, "moderation needs an admin's credentials")
	}
	u, err := s.meta.User(ctx, userID)
	if err != nil {
		return "", fmt.Errorf("moderator %d: %w", userID, err)
	}
	if !u.Admin {
		return "", Errorf(api.CodeForbidden, "only admins may delete images")
	}
	return fmt.Sprintf("user:%d", u.ID), nil
}

// ParseImagePath returns the image id of a published path
// (/hc/user_images/<id>.<ext>), a file name (<id>.<ext>) or a bare id.
func ParseImagePath(p string) (string, error) {
	p = p[strings.LastIndexByte(p, '/')+1:]
	id, _, _ := strings.Cut(p, ".")
	if !ValidImageID(id) {
		return "", Errorf(api.CodeNotFound, "%q is not an image path or id", p)
	}
	return id, nil
}

// DeleteImage takes an image down: its metadata goes (with an audit record
// of who did it and why) and then its bytes. With block, the same bytes are
// refused if anyone uploads them again.
func (s *Service) DeleteImage(ctx context.Context, id, by, reason string, block bool) (_ Image, err error) {
	defer func() { err = storeFault(err) }()
	if !ValidImageID(id) {
		return Image{}, Errorf(api.CodeNotFound, "no image has id %q", id)
	}
	img, err := s.meta.Image(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Image{}, Errorf(api.CodeNotFound, "no image has id %q", id)
	}
	if err != nil {
		return Image{}, fmt.Errorf("delete image %s: %w", id, err)
	}
	err = s.meta.DeleteImage(ctx, Deletion{Image: img, By: by, Reason: reason, Blocked: block, At: s.now()})
	if errors.Is(err, ErrNotFound) {
		return Image{}, Errorf(api.CodeNotFound, "no image has id %q", id)
	}
	if err != nil {
		return Image{}, fmt.Errorf("delete image %s: %w", id, err)
	}
	s.images.remove(id)
	s.deleteBlob(ctx, ImageKey(id))
	s.deleteVariants(ctx, id)
	return img, nil
}

// ListImages lists images, newest first; f.Limit defaults to 100.
func (s *Service) ListImages(ctx context.Context, f ImageFilter) ([]Image, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	return s.meta.ListImages(ctx, f)
}

// Deletions lists the moderation audit log, newest first.
func (s *Service) Deletions(ctx context.Context, limit int) ([]Deletion, error) {
	if limit <= 0 {
		limit = 100
	}
	return s.meta.Deletions(ctx, limit)
}

// UserEmail returns the email of the user with id.
func (s *Service) UserEmail(ctx context.Context, id int64) (string, error) {
	u, err := s.meta.User(ctx, id)
	return u.Email, err
}

// User returns the user with id, for showing callers who they are.
func (s *Service) User(ctx context.Context, id int64) (_ User, err error) {
	defer func() { err = storeFault(err) }()
	u, err := s.meta.User(ctx, id)
	if err != nil {
		return User{}, fmt.Errorf("user %d: %w", id, err)
	}
	return u, nil
}

// UserID returns the id of the user with email.
func (s *Service) UserID(ctx context.Context, email string) (int64, error) {
	u, err := s.meta.UserByEmail(ctx, strings.ToLower(email))
	if errors.Is(err, ErrNotFound) {
		return 0, Errorf(api.CodeNotFound, "no user has email %s", email)
	}
	return u.ID, err
}

// Ready checks that the metadata and blob stores answer and that the local
// disk, if any, has more than Config.MinFreeSpace free.
func (s *Service) Ready(ctx context.Context) error {
	if _, err := s.meta.BrandExists(ctx, "readyz"); err != nil {
		return fmt.Errorf("metadata store: %w", err)
	}
	if err := s.blobs.List(ctx, "readyz/", func(string, time.Time) error { return nil }); err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	if s.disk == nil {
		return nil
	}
	free, err := s.disk.FreeSpace()
	if errors.Is(err, errors.ErrUnsupported) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("disk: %w", err)
	}
	if free < s.cfg.MinFreeSpace {
		return fmt.Errorf("disk: %d bytes free, under the reserve of %d", free, s.cfg.MinFreeSpace)
	}
	return nil
}

// DeleteBrand removes brand id. While the brand has images it is refused
// (api.CodeConflict) unless takeDown, which first takes each image down as
// DeleteImage does, by by for reason, each with its audit record.
func (s *Service) DeleteBrand(ctx context.Context, id string, takeDown bool, by, reason string) (takenDown int, err error) {
	defer func() { err = storeFault(err) }()
	for {
		err := s.meta.DeleteBrand(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			return takenDown, Errorf(api.CodeNotFound, "no brand has id %q", id)
		case !errors.Is(err, ErrExist):
			return takenDown, err
		case !takeDown:
			return takenDown, Errorf(api.CodeConflict, "brand %s has images; take them down with it (--take-down) or keep it", id)
		}
		images, err := s.meta.ListImages(ctx, ImageFilter{BrandID: id, Limit: 100})
		if err != nil {
			return takenDown, err
		}
		for _, img := range images {
			if _, err := s.DeleteImage(ctx, img.ID, by, reason, false); err != nil && ErrorCode(err) != api.CodeNotFound {
				return takenDown, err
			}
			takenDown++
		}
	}
}
