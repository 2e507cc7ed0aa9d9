package core

import "time"

// SetImageCacheLimits sets the size bound and TTL of s's image cache.
func SetImageCacheLimits(s *Serving, size int, ttl time.Duration) {
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	s.cache.max, s.cache.ttl = size, ttl
}

// ImageCacheLen returns the number of entries in s's image cache.
func ImageCacheLen(s *Serving) int { return s.cache.len() }

// ImageCacheTTL is the default lifetime of an image cache entry.
const ImageCacheTTL = imageCacheTTL
