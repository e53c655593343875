package resilientfilestorageextension

import (
	"context"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// The journald receiver's cursor is saved one entry behind: entry N's
// cursor only once the receiver asks to save N+1's (entry N was written by
// then), and the last one when the client closes.
func TestJournaldCursorSavedAfterTheEntry(t *testing.T) {
	s := newSetup(t)
	ctx := context.Background()
	id := component.MustNewID("journald")
	const key = "$.journald_input.lastReadCursor" // as stanza scopes it
	open := func() storage.Client {
		c, err := s.ext.GetClient(ctx, component.KindReceiver, id, "")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := open()
	for _, cursor := range []string{"c1", "c2", "c3"} {
		if err := c.Set(ctx, key, []byte(cursor)); err != nil {
			t.Fatal(err)
		}
	}
	inner := c.(*cursorAfterWrite).Client
	if got, _ := inner.Get(ctx, key); string(got) != "c2" {
		t.Errorf("saved cursor after c3 was read: %q, want c2", got)
	}
	if got, _ := c.Get(ctx, key); string(got) != "c3" {
		t.Errorf("Get: %q, want the held c3", got)
	}
	if err := c.Set(ctx, "other", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if got, _ := inner.Get(ctx, "other"); string(got) != "x" {
		t.Errorf("another key is held: %q", got)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	c = open()
	defer c.Close(ctx)
	if got, _ := c.Get(ctx, key); string(got) != "c3" {
		t.Errorf("after a graceful close the cursor is %q, want c3", got)
	}
}
