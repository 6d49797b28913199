package lru

import "testing"

func TestLeastRecentlyUsedLeaveFirst(t *testing.T) {
	c := New[int, string](300)
	c.Put(1, "a", 100)
	c.Put(2, "b", 100)
	c.Get(1)
	c.Put(3, "c", 150) // over budget: 2 is the least recently used
	if _, ok := c.Get(2); ok {
		t.Fatal("the least recently used entry stayed")
	}
	for _, k := range []int{1, 3} {
		if _, ok := c.Get(k); !ok {
			t.Fatalf("entry %d left", k)
		}
	}
	if b, n := c.Bytes(); b != 250 || n != 2 {
		t.Fatalf("%d bytes in %d entries", b, n)
	}
	c.Put(1, "big", 301) // larger than the budget: not kept, the old value gone
	if _, ok := c.Get(1); ok {
		t.Fatal("a value over the whole budget was kept")
	}
	c.Put(3, "c2", 10) // replacing counts the new size only
	if b, n := c.Bytes(); b != 10 || n != 1 {
		t.Fatalf("after replacing: %d bytes in %d entries", b, n)
	}
	c.Delete(3)
	if b, n := c.Bytes(); b != 0 || n != 0 {
		t.Fatalf("after delete: %d bytes in %d entries", b, n)
	}
	none := New[int, int](0)
	none.Put(1, 1, 1)
	if _, ok := none.Get(1); ok {
		t.Fatal("a cache without budget kept a value")
	}
}
