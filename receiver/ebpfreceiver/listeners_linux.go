//go:build linux

package ebpfreceiver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// The kernel's sock_diag interface (linux/inet_diag.h), as `ss -lt` uses it.
const (
	tcpListenState     = 10 // TCP_LISTEN
	inetDiagReqV2Size  = 56 // struct inet_diag_req_v2
	inetDiagMsgSize    = 72 // struct inet_diag_msg
	inetDiagSportOff   = 4  // idiag_sport (big endian) in inet_diag_msg
	inetDiagInodeOff   = 68 // idiag_inode in inet_diag_msg
	inetDiagFamilyOff  = 0
	inetDiagStatesOff  = 4 // idiag_states in inet_diag_req_v2
	inetDiagProtoOff   = 1 // sdiag_protocol in inet_diag_req_v2
	netlinkRecvBufSize = 32 << 10
)

// listeningInodes adds the socket inode -> port of every TCP socket in
// LISTEN state (IPv4 and IPv6), asking the kernel for listening sockets
// only. Reading /proc/net/tcp instead formats every TCP socket of the
// machine, thousands on a busy server, walking the established hash under
// its bucket locks; the listening ones are a handful.
func listeningInodes(out map[string]uint16) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return fmt.Errorf("sock_diag netlink socket: %w", err)
	}
	defer unix.Close(fd)
	for seq, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		if err := dumpListeners(fd, uint32(seq+1), family, out); err != nil {
			return err
		}
	}
	return nil
}

// dumpListeners sends one SOCK_DIAG_BY_FAMILY dump request for family's
// listening TCP sockets and reads the answer up to its NLMSG_DONE.
func dumpListeners(fd int, seq uint32, family uint8, out map[string]uint16) error {
	req := make([]byte, unix.SizeofNlMsghdr+inetDiagReqV2Size)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], seq)
	body := req[unix.SizeofNlMsghdr:]
	body[inetDiagFamilyOff] = family
	body[inetDiagProtoOff] = unix.IPPROTO_TCP
	binary.NativeEndian.PutUint32(body[inetDiagStatesOff:], 1<<tcpListenState)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("sock_diag request: %w", err)
	}
	buf := make([]byte, netlinkRecvBufSize)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return fmt.Errorf("sock_diag answer: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("sock_diag answer: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if errno := int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
						return fmt.Errorf("sock_diag: %w", unix.Errno(-errno))
					}
				}
				return errors.New("sock_diag: malformed error answer")
			case unix.SOCK_DIAG_BY_FAMILY:
				if len(m.Data) < inetDiagMsgSize {
					return errors.New("sock_diag: short inet_diag_msg")
				}
				port := binary.BigEndian.Uint16(m.Data[inetDiagSportOff:])
				inode := binary.NativeEndian.Uint32(m.Data[inetDiagInodeOff:])
				out[strconv.FormatUint(uint64(inode), 10)] = port
			}
		}
	}
}
