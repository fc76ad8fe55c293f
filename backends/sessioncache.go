package backends

import (
	"container/list"
	"sync"
)

// An LRUSessionCache is a SessionCache of at most a fixed number of
// sessions, least recently stored first out. It is safe for concurrent
// use.
type LRUSessionCache struct {
	mu       sync.Mutex
	capacity int
	order    *list.List               // of *lruEntry, most recent at the front
	entries  map[string]*list.Element // key -> element
}

type lruEntry struct {
	key     string
	session any
}

var _ SessionCache = (*LRUSessionCache)(nil)

// NewLRUSessionCache returns a cache of at most capacity sessions (16
// when capacity is not positive).
func NewLRUSessionCache(capacity int) *LRUSessionCache {
	if capacity <= 0 {
		capacity = 16
	}
	return &LRUSessionCache{capacity: capacity, order: list.New(), entries: map[string]*list.Element{}}
}

// Get returns the session stored under key.
func (c *LRUSessionCache) Get(key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return nil, false
	}
	return e.Value.(*lruEntry).session, true
}

// Put stores session under key, dropping the least recently stored
// session past the capacity; a nil session removes key.
func (c *LRUSessionCache) Put(key string, session any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	switch {
	case session == nil && ok:
		c.order.Remove(e)
		delete(c.entries, key)
	case session == nil:
	case ok:
		e.Value.(*lruEntry).session = session
		c.order.MoveToFront(e)
	default:
		c.entries[key] = c.order.PushFront(&lruEntry{key, session})
		for c.order.Len() > c.capacity {
			last := c.order.Back()
			c.order.Remove(last)
			delete(c.entries, last.Value.(*lruEntry).key)
		}
	}
}

// Len is how many sessions the cache holds.
func (c *LRUSessionCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
