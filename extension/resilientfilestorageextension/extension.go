package resilientfilestorageextension

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"go.etcd.io/bbolt"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otel-ai-collector/otel-ai-collector/extension/resilientfilestorageextension/internal/metadata"
)

// AsideMarker is in the name of every file this extension moved aside:
// <state file>.damaged-<UTC time>. doctor lists the files with it.
const AsideMarker = ".damaged-"

type resilientStorage struct {
	inner   storage.Extension
	dir     string
	timeout time.Duration
	logger  *zap.Logger
	damaged metric.Int64Counter
	now     func() time.Time
}

var _ storage.Extension = (*resilientStorage)(nil)

func newExtension(ctx context.Context, set extension.Settings, cfg *Config) (*resilientStorage, error) {
	damaged, err := set.MeterProvider.Meter(metadata.ScopeName).Int64Counter(
		"otelcol_extension_resilient_file_storage_damaged_files",
		metric.WithDescription("State files that could not be opened or read, moved aside and replaced by a fresh one; what they held was not delivered. [resilient_file_storage extension]"),
		metric.WithUnit("{file}"),
	)
	if err != nil {
		return nil, err
	}
	// The stock extension does the storing; this one only decides what
	// happens when it cannot open a file.
	// The stock factory checks that the ID is of its own type; the logger
	// stays this extension's.
	factory := filestorage.NewFactory()
	innerSet := set
	innerSet.ID = component.NewIDWithName(factory.Type(), set.ID.Name())
	inner, err := factory.Create(ctx, innerSet, &cfg.Config)
	if err != nil {
		return nil, err
	}
	s, ok := inner.(storage.Extension)
	if !ok {
		return nil, fmt.Errorf("file_storage %T is not a storage extension", inner)
	}
	return &resilientStorage{inner: s, dir: cfg.Directory, timeout: cfg.Timeout, logger: set.Logger, damaged: damaged, now: time.Now}, nil
}

func (r *resilientStorage) Start(ctx context.Context, host component.Host) error {
	return r.inner.Start(ctx, host)
}

func (r *resilientStorage) Shutdown(ctx context.Context) error {
	return r.inner.Shutdown(ctx)
}

// GetClient opens the component's file with file_storage. When that fails
// for the file itself (not for a lock another process holds), the file is
// renamed to <file>.damaged-<time>, kept for inspection, and a fresh one is
// opened: the component starts with empty state, and the collector with it,
// instead of failing its start (and every pipeline, the monitor path
// included) until someone deletes the file by hand.
func (r *resilientStorage) GetClient(ctx context.Context, kind component.Kind, id component.ID, name string) (storage.Client, error) {
	client, err := r.getClient(ctx, kind, id, name)
	if err == nil && kind == component.KindReceiver && id.Type().String() == "journald" {
		client = &cursorAfterWrite{Client: client}
	}
	return client, err
}

func (r *resilientStorage) getClient(ctx context.Context, kind component.Kind, id component.ID, name string) (storage.Client, error) {
	path := filepath.Join(r.dir, FileName(kind, id, name))
	openErr := r.check(path)
	if openErr == nil {
		var client storage.Client
		if client, openErr = r.open(ctx, kind, id, name); openErr == nil {
			return client, nil
		}
	}
	if errors.Is(openErr, bbolt.ErrTimeout) {
		// bbolt waits for the file's lock: another collector on the same
		// state directory holds it. The file is fine; moving it aside would
		// take that collector's data away.
		return nil, fmt.Errorf("state file %s is locked by another process (another collector on the same state directory?): %w", path, openErr)
	}
	info, statErr := os.Lstat(path)
	if statErr != nil {
		// Nothing to move aside: the failure is not the file's (e.g. the
		// directory is not writable).
		return nil, openErr
	}
	aside := path + AsideMarker + r.now().UTC().Format("20060102T150405.000Z")
	if err := os.Rename(path, aside); err != nil {
		return nil, fmt.Errorf("state file %s cannot be opened (%w) and cannot be moved aside to %s: %v", path, openErr, aside, err)
	}
	client, err := r.open(ctx, kind, id, name)
	if err != nil {
		return nil, fmt.Errorf("state file %s could not be opened (%v) and was moved aside to %s, but a fresh one cannot be opened either: %w", path, openErr, aside, err)
	}
	what := fmt.Sprintf("a file of %d bytes", info.Size())
	if info.IsDir() {
		what = "a directory"
	}
	// One error, naming the file, the copy, and what was lost.
	r.logger.Error("Damaged state file moved aside; started with a fresh one. What it held is lost to this collector; "+
		"the copy is kept for inspection and can be deleted",
		zap.String("file", path),
		zap.String("moved_to", aside),
		zap.String("component", kindName(kind)+" "+id.String()),
		zap.String("client", name),
		zap.String("was", what),
		zap.String("lost", r.held(aside, kind)),
		zap.NamedError("open_error", openErr))
	r.damaged.Add(ctx, 1, metric.WithAttributes(
		attribute.String("file", filepath.Base(path)),
	))
	return client, nil
}

// check reads an existing file before file_storage opens it, for the damage
// that bbolt's open does not see and that would crash the collector later:
// a file shorter than its pages reach (truncated) makes the first read of a
// page past its end a SIGBUS on bbolt's memory map, which no recover()
// catches (measured: the persistent queue's first Read killed the process).
// The check opens the file read-only, compares its size with bbolt's
// high-water mark, then walks every page (tx.Check); it reads what the
// compaction on start reads anyway. A fault while it reads is turned into a
// panic for this goroutine only (debug.SetPanicOnFault) and recovered. An
// empty file is left to file_storage, which initialises it.
func (r *resilientStorage) check(path string) (err error) {
	info, err := os.Lstat(path)
	if err != nil || !info.Mode().IsRegular() || info.Size() == 0 {
		return nil // missing (created fresh), or not a file: file_storage's open fails on it
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("reading it failed: %v", p)
		}
	}()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: r.timeout})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bbolt.Tx) error {
		if reach := tx.Size(); reach > info.Size() {
			return fmt.Errorf("truncated: %d bytes, its pages reach %d", info.Size(), reach)
		}
		var first error
		for e := range tx.Check() { // drained: the walk sends until done
			if first == nil {
				first = e
			}
		}
		if first != nil {
			return fmt.Errorf("inconsistent: %w", first)
		}
		return nil
	})
}

// held says what a file moved aside held, as far as bbolt can still read
// it: a damaged file whose pages are readable in part (truncated, or
// inconsistent) still has its keys; one whose meta pages are gone does not.
// An exporter's persistent queue stores each queued request (a batch of
// records, as the queue wrote it) under its index, a number; its other keys
// are the queue's own metadata.
func (r *resilientStorage) held(path string, kind component.Kind) (lost string) {
	const unknown = "unknown: bbolt cannot read the file"
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			lost = unknown
		}
	}()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: r.timeout})
	if err != nil {
		return unknown
	}
	defer db.Close()
	keys, requests := 0, 0
	err = db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bbolt.Bucket) error {
			return b.ForEach(func(k, _ []byte) error {
				keys++
				if _, err := strconv.ParseUint(string(k), 10, 64); err == nil {
					requests++
				}
				return nil
			})
		})
	})
	switch {
	case err != nil:
		return unknown
	case kind == component.KindExporter:
		return fmt.Sprintf("%d queued requests (batches of records)", requests)
	}
	return fmt.Sprintf("%d stored keys", keys)
}

// open is file_storage's GetClient, with a panic (bbolt panics on some
// damaged pages) turned into an error like any other.
func (r *resilientStorage) open(ctx context.Context, kind component.Kind, id component.ID, name string) (client storage.Client, err error) {
	defer func() {
		if p := recover(); p != nil {
			client, err = nil, fmt.Errorf("panic while opening: %v", p)
		}
	}()
	return r.inner.GetClient(ctx, kind, id, name)
}

// FileName is the name file_storage gives a component's file, as its
// README (contrib v0.158.0, "Replacing unsafe characters in component
// names") documents it: <kind>_<type>_<name>[_<client name>], where every
// character but A-Z a-z 0-9 . - _ becomes ~ and its four-digit hexadecimal
// code point. file_storage hashes names too long for the file system; the
// names of this distribution's components are far from that.
func FileName(kind component.Kind, id component.ID, name string) string {
	raw := kindName(kind) + "_" + id.Type().String() + "_" + id.Name()
	if name != "" {
		raw += "_" + name
	}
	var b strings.Builder
	for _, c := range raw {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
			b.WriteRune(c)
		default:
			fmt.Fprintf(&b, "~%04X", c)
		}
	}
	return b.String()
}

func kindName(k component.Kind) string {
	switch k {
	case component.KindReceiver:
		return "receiver"
	case component.KindProcessor:
		return "processor"
	case component.KindExporter:
		return "exporter"
	case component.KindExtension:
		return "extension"
	case component.KindConnector:
		return "connector"
	}
	return "other"
}
