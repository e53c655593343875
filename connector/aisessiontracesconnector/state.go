package aisessiontracesconnector

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// stateStore keeps sessions and pending roots in a storage extension, one
// key each: "s/<cli>\x00<session>" and "r/<trace id>". Without a storage
// extension it does nothing and the state lives in memory only.
type stateStore struct {
	client storage.Client // nil: memory only
}

func openStateStore(ctx context.Context, host component.Host, id *component.ID, self component.ID) (*stateStore, error) {
	if id == nil {
		return &stateStore{}, nil
	}
	ext, found := host.GetExtensions()[*id]
	if !found {
		return nil, fmt.Errorf("ai_session_traces: storage %q is not among the service's extensions; add it to service::extensions", id)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return nil, fmt.Errorf("ai_session_traces: extension %q is %w", id, errNoStorage)
	}
	client, err := se.GetClient(ctx, component.KindConnector, self, "sessions")
	if err != nil {
		return nil, fmt.Errorf("ai_session_traces: opening storage %q: %w", id, err)
	}
	if _, ok := client.(storage.Walker); !ok {
		_ = client.Close(ctx)
		return nil, fmt.Errorf("ai_session_traces: storage %q cannot list its keys; use file_storage", id)
	}
	return &stateStore{client: client}, nil
}

func (st *stateStore) durable() bool { return st.client != nil }

func (st *stateStore) close(ctx context.Context) error {
	if st.client == nil {
		return nil
	}
	return st.client.Close(ctx)
}

// load reads every stored session and pending root.
func (st *stateStore) load(ctx context.Context) ([]*sessionState, []*pendingRoot, error) {
	if st.client == nil {
		return nil, nil, nil
	}
	var sessions []*sessionState
	var roots []*pendingRoot
	err := st.client.(storage.Walker).Walk(ctx, func(key string, value []byte) ([]*storage.Operation, error) {
		switch {
		case strings.HasPrefix(key, "s/"):
			s := &sessionState{}
			if err := json.Unmarshal(value, s); err != nil {
				return nil, fmt.Errorf("session %q: %w", key, err)
			}
			sessions = append(sessions, s)
		case strings.HasPrefix(key, "r/"):
			r := &pendingRoot{stored: true}
			if err := json.Unmarshal(value, r); err != nil {
				return nil, fmt.Errorf("turn %q: %w", key, err)
			}
			roots = append(roots, r)
		}
		return nil, nil
	})
	return sessions, roots, err
}

// save writes changed sessions and pending roots not stored yet, and
// deletes removed sessions and emitted roots, in one transaction.
func (st *stateStore) save(ctx context.Context, changed []*sessionState, removed []string, pending, emitted []*pendingRoot) error {
	if st.client == nil {
		return nil
	}
	var ops []*storage.Operation
	gone := make(map[string]bool, len(removed))
	for _, key := range removed {
		gone[key] = true
		ops = append(ops, storage.DeleteOperation("s/"+key))
	}
	for _, s := range changed {
		if gone[sessionKey(s.CLI, s.ID)] {
			continue // evicted later in the same batch
		}
		value, err := json.Marshal(s)
		if err != nil {
			return err
		}
		ops = append(ops, storage.SetOperation("s/"+sessionKey(s.CLI, s.ID), value))
	}
	var newlyStored []*pendingRoot
	for _, r := range pending {
		if r.stored {
			continue
		}
		value, err := json.Marshal(r)
		if err != nil {
			return err
		}
		ops = append(ops, storage.SetOperation(r.storageKey(), value))
		newlyStored = append(newlyStored, r)
	}
	for _, r := range emitted {
		ops = append(ops, storage.DeleteOperation(r.storageKey()))
	}
	if len(ops) == 0 {
		return nil
	}
	if err := st.client.Batch(ctx, ops...); err != nil {
		return err
	}
	for _, r := range newlyStored {
		r.stored = true
	}
	return nil
}
