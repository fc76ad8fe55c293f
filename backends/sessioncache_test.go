package backends

import "testing"

// TestLRUSessionCache: at most capacity sessions, the least recently
// stored out first; storing again refreshes; nil removes.
func TestLRUSessionCache(t *testing.T) {
	c := NewLRUSessionCache(2)
	c.Put("a", 1)
	c.Put("b", 2)
	c.Put("a", 3) // refreshes a: b is now the oldest
	c.Put("c", 4)
	if _, ok := c.Get("b"); ok {
		t.Error("b was not dropped past the capacity")
	}
	if v, _ := c.Get("a"); v != 3 {
		t.Errorf("a = %v, want 3", v)
	}
	if c.Len() != 2 {
		t.Errorf("Len %d, want 2", c.Len())
	}
	c.Put("a", nil)
	c.Put("nothing", nil)
	if _, ok := c.Get("a"); ok || c.Len() != 1 {
		t.Errorf("after removing a: Len %d", c.Len())
	}
	if d := NewLRUSessionCache(0); d.capacity != 16 {
		t.Errorf("default capacity %d", d.capacity)
	}
}
