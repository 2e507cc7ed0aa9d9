package core

import "time"

// SetImageCacheLimits sets the size bound and TTL of s's image cache.
func SetImageCacheLimits(s *Service, size int, ttl time.Duration) {
	s.images.mu.Lock()
	defer s.images.mu.Unlock()
	s.images.max, s.images.ttl = size, ttl
}

// ImageCacheLen returns the number of entries in s's image cache.
func ImageCacheLen(s *Service) int { return s.images.len() }

// ImageCacheTTL is the default lifetime of an image cache entry.
const ImageCacheTTL = imageCacheTTL
