package core

import (
	"container/list"
	"sync"
	"time"
)

// The image cache keeps the metadata of recently served images so that
// OpenImage, the hot path of every image GET, needs no metadata store round
// trip. Image rows never change once published; they only go away, by a
// takedown:
//   - on this instance, DeleteImage drops the entry at once;
//   - on another instance sharing the stores, the takedown deletes the
//     bytes after the row, so opening them fails and OpenImage drops the
//     entry and asks the metadata store again (which answers not found);
//   - if that blob delete failed (the sweeper retries it), an instance may
//     serve the bytes from its cache for up to imageCacheTTL.
//
// Only images found are cached; unknown ids always ask the store.
// PublishedImage (the lookup behind redirects) never uses the cache.
const (
	imageCacheTTL  = time.Minute
	imageCacheSize = 10000
)

// imageCache is a bounded LRU map from image id to Image, each entry valid
// for ttl after it was added. The zero value is ready to use, with the
// defaults above; it is safe for concurrent use.
type imageCache struct {
	mu      sync.Mutex
	max     int           // entries; 0 means imageCacheSize
	ttl     time.Duration // 0 means imageCacheTTL
	entries map[string]*list.Element
	lru     list.List // of *cacheEntry, most recently used first
}

type cacheEntry struct {
	img     Image
	expires time.Time
}

// get returns the cached image of id, unless it is missing or expired.
func (c *imageCache) get(id string, now time.Time) (Image, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[id]
	if !ok {
		return Image{}, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.lru.Remove(el)
		delete(c.entries, id)
		return Image{}, false
	}
	c.lru.MoveToFront(el)
	return e.img, true
}

// add caches img from now, evicting the least recently used entry if the
// cache is full.
func (c *imageCache) add(img Image, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ttl, max := c.ttl, c.max
	if ttl <= 0 {
		ttl = imageCacheTTL
	}
	if max <= 0 {
		max = imageCacheSize
	}
	e := &cacheEntry{img: img, expires: now.Add(ttl)}
	if el, ok := c.entries[img.ID]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	if c.entries == nil {
		c.entries = make(map[string]*list.Element)
	}
	for c.lru.Len() >= max {
		oldest := c.lru.Back()
		c.lru.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).img.ID)
	}
	c.entries[img.ID] = c.lru.PushFront(e)
}

// remove drops id's entry, if any.
func (c *imageCache) remove(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[id]; ok {
		c.lru.Remove(el)
		delete(c.entries, id)
	}
}

// len returns the number of entries, expired ones included.
func (c *imageCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
