// SPDX-License-Identifier: Apache-2.0

package lab

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/symdist/symdist/internal/cmderr"

	"unsafe"

	"golang.org/x/sys/unix"
)

// sh runs a command and returns its error with its output.
func sh(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// inNS runs args in network namespace ns.
func inNS(ns string, args ...string) error {
	return sh(append([]string{"ip", "netns", "exec", ns}, args...)...)
}

// InNS runs f on an OS thread moved into namespace ns; sockets f creates
// stay in ns and can be used from any goroutine afterwards. The thread is
// discarded when f returns, so no other goroutine ever runs in ns.
func InNS(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with us
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("netns %s: %w", ns, err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// setSysctl writes value to /proc/sys/key (key with slashes: net/ipv4/...)
// inside namespace ns: sysctl -w without procps, which may be missing.
func setSysctl(ns, key, value string) error {
	err := InNS(ns, func() error {
		return os.WriteFile("/proc/sys/"+key, []byte(value), 0o644)
	})
	if err != nil {
		return fmt.Errorf("netns %s: %w", ns, err)
	}
	return nil
}

// DialTCP connects from namespace ns (from local, if set) to addr.
func DialTCP(ns string, local *net.TCPAddr, addr string, timeout time.Duration) (net.Conn, error) {
	c, _, err := dialFrom(ns, local, addr, timeout)
	return c, err
}

// dialFrom is DialTCP that also says which local address the connection
// had, even when it failed: a connection reset during its handshake can
// then be told apart by its client bucket. A local address without a port
// is bound before connecting (the kernel picks the port) so that it is
// known.
func dialFrom(ns string, local *net.TCPAddr, addr string, timeout time.Duration) (net.Conn, *net.TCPAddr, error) {
	var c net.Conn
	var bound *net.TCPAddr
	err := InNS(ns, func() error {
		d := net.Dialer{Timeout: timeout, LocalAddr: local}
		if local != nil && local.Port == 0 {
			d.LocalAddr = nil // bound here instead
			d.Control = func(_, _ string, rc syscall.RawConn) error {
				var err error
				if cerr := rc.Control(func(fd uintptr) { bound, err = bindAny(int(fd), local.IP) }); cerr != nil {
					return cerr
				}
				return err
			}
		}
		var err error
		c, err = d.Dial("tcp", addr)
		return err
	})
	if c != nil {
		bound = c.LocalAddr().(*net.TCPAddr)
	}
	return c, bound, err
}

// bindAny binds socket fd to ip with a port the kernel picks, and returns
// the address it got.
func bindAny(fd int, ip net.IP) (*net.TCPAddr, error) {
	var sa syscall.Sockaddr
	if ip4 := ip.To4(); ip4 != nil {
		sa4 := &syscall.SockaddrInet4{}
		copy(sa4.Addr[:], ip4)
		sa = sa4
	} else {
		sa6 := &syscall.SockaddrInet6{}
		copy(sa6.Addr[:], ip.To16())
		sa = sa6
	}
	if err := syscall.Bind(fd, sa); err != nil {
		return nil, err
	}
	got, err := syscall.Getsockname(fd)
	if err != nil {
		return nil, err
	}
	switch a := got.(type) {
	case *syscall.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}, nil
	case *syscall.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}, nil
	}
	return nil, fmt.Errorf("bound to %v", got)
}

// ListenTCP listens on addr inside namespace ns.
func ListenTCP(ns, addr string) (net.Listener, error) {
	var ln net.Listener
	err := InNS(ns, func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	return ln, err
}

var probe struct {
	once sync.Once
	why  string
}

// Missing says why the lab cannot run here, or "". Root is not enough (root
// in an unprivileged container lacks the capabilities), so the first call
// makes a throwaway namespace with a veth pair in it and deletes it; the
// answer is kept.
func Missing() string {
	probe.once.Do(func() { probe.why = probeNS() })
	return probe.why
}

func probeNS() string {
	if os.Geteuid() != 0 {
		return "needs root (network namespaces, veths)"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "needs iproute2's ip command"
	}
	ns := fmt.Sprintf("symdist-probe-%d", os.Getpid()) // unique to this process
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		return fmt.Sprintf("needs CAP_NET_ADMIN and CAP_SYS_ADMIN (ip netns add: %s)", cmderr.Cause(out, err))
	}
	// Deleting the namespace deletes the veths in it.
	defer func() { _ = sh("ip", "netns", "del", ns) }()
	if out, err := exec.Command("ip", "-n", ns, "link", "add", "name", "p0", "type", "veth", "peer", "name", "p1").CombinedOutput(); err != nil {
		return fmt.Sprintf("needs CAP_NET_ADMIN (ip link add: %s)", cmderr.Cause(out, err))
	}
	return ""
}

// ethtoolValue is struct ethtool_value of <linux/ethtool.h>.
type ethtoolValue struct {
	cmd, data uint32
}

const ethtoolSTXCSUM = 0x17 // ETHTOOL_STXCSUM: set TX checksum offload

// disableTxChecksum turns off TX checksum offload on an interface in ns
// (ethtool -K IF tx off, by ioctl). A veth otherwise passes TCP/UDP packets
// with their checksum left for "hardware" to fill in; a switch that reads
// them with AF_PACKET (the software switch, bmv2) forwards them unfinished
// and the receiver drops them as corrupt.
func disableTxChecksum(ns, ifname string) error {
	return InNS(ns, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		v := ethtoolValue{cmd: ethtoolSTXCSUM, data: 0}
		var ifr [40]byte // struct ifreq: name, then ifr_data
		copy(ifr[:unix.IFNAMSIZ-1], ifname)
		*(*uintptr)(unsafe.Pointer(&ifr[unix.IFNAMSIZ])) = uintptr(unsafe.Pointer(&v))
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
		runtime.KeepAlive(&v)
		if errno != 0 {
			return fmt.Errorf("%s in %s: ETHTOOL_STXCSUM: %w", ifname, ns, errno)
		}
		return nil
	})
}
