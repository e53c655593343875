//go:build !linux

package ebpfreceiver

import "errors"

// listeningInodes needs Linux's sock_diag; the receiver does not run
// elsewhere (receiver_other.go).
func listeningInodes(map[string]uint16) error { return errors.ErrUnsupported }
