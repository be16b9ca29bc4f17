package main

// Network facts and traffic. serve and dial only ever use the addresses the
// test hands them; the tests keep those inside namespaces they created.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

func cmdIfaces(args []string) error { return noArgsThen(args, printIfaces) }
func cmdRoutes(args []string) error { return noArgsThen(args, printRoutes) }

// printIfaces prints the sorted interface names, then one line per
// interface. A fresh network namespace has only "lo", and it is down.
func printIfaces() error {
	ifaces, err := net.Interfaces()
	if err != nil {
		return err
	}
	sort.Slice(ifaces, func(i, j int) bool { return ifaces[i].Name < ifaces[j].Name })
	names := make([]string, len(ifaces))
	for i, ifc := range ifaces {
		names[i] = ifc.Name
	}
	emit("ifaces", strings.Join(names, ","))
	for _, ifc := range ifaces {
		addrs, err := ifc.Addrs()
		if err != nil {
			return fmt.Errorf("addresses of %s: %w", ifc.Name, err)
		}
		cidrs := make([]string, len(addrs))
		for i, a := range addrs {
			cidrs[i] = a.String()
		}
		state := "down"
		if ifc.Flags&net.FlagUp != 0 {
			state = "up"
		}
		emit("iface", fmt.Sprintf("%s state=%s mtu=%d addrs=%s mac=%s",
			ifc.Name, state, ifc.MTU, strings.Join(cidrs, ","), ifc.HardwareAddr))
	}
	return nil
}

// route is one line of /proc/net/route.
type route struct {
	dest    net.IPNet
	gateway net.IP
	iface   string
}

// printRoutes prints the IPv4 routing table and the default gateway, if any.
func printRoutes() error {
	data, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return err
	}
	routes, err := parseRoutes(string(data))
	if err != nil {
		return err
	}
	gw := ""
	for _, r := range routes {
		emit("route", fmt.Sprintf("%s %s %s", r.dest.String(), r.gateway, r.iface))
		if ones, _ := r.dest.Mask.Size(); ones == 0 && gw == "" {
			gw = r.gateway.String()
		}
	}
	if gw != "" {
		emit("default_gw", gw)
	}
	return nil
}

// parseRoutes decodes /proc/net/route: a header line, then
// "Iface Destination Gateway Flags RefCnt Use Metric Mask ..." with
// addresses as the kernel's __be32 printed in hex as a host-order integer.
func parseRoutes(text string) ([]route, error) {
	var routes []route
	lines := strings.Split(strings.TrimSpace(text), "\n")
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) < 8 {
			return nil, fmt.Errorf("/proc/net/route: malformed line %q", line)
		}
		dest, err1 := hexIPv4(f[1])
		gw, err2 := hexIPv4(f[2])
		mask, err3 := hexIPv4(f[7])
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("/proc/net/route: line %q: %w", line, err)
		}
		routes = append(routes, route{
			dest:    net.IPNet{IP: dest, Mask: net.IPMask(mask)},
			gateway: gw,
			iface:   f[0],
		})
	}
	return routes, nil
}

// hexIPv4 decodes "0100000A": the integer's bytes in host order are the
// address in network order, so on little-endian hosts it reads 10.0.0.1.
func hexIPv4(s string) (net.IP, error) {
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return nil, err
	}
	ip := make(net.IP, 4)
	binary.NativeEndian.PutUint32(ip, uint32(v))
	return ip, nil
}

// cmdServe answers COUNT TCP connections (or UDP datagrams) with one line
// that names this host and the peer, so a test sees both ends of a published
// port or of a NAT. COUNT 0 serves until killed.
func cmdServe(args []string) error {
	pos, flags, err := parseFlags(args, []string{"udp"}, []string{"count"})
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("needs exactly one PORT")
	}
	port, err := strconv.ParseUint(pos[0], 10, 16)
	if err != nil {
		return usagef("bad port %q", pos[0])
	}
	count := 1
	if c, ok := flags["count"]; ok {
		if count, err = strconv.Atoi(c); err != nil || count < 0 {
			return usagef("bad --count %q", c)
		}
	}
	addr := fmt.Sprintf("0.0.0.0:%d", port)
	if flags["udp"] != "" {
		return serveUDP(addr, count)
	}
	return serveTCP(addr, count)
}

func greeting(peer string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("hello from %s to %s\n", host, peer)
}

func serveTCP(addr string, count int) error {
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	emit("listening", ln.Addr())
	served := 0
	for ; count == 0 || served < count; served++ {
		conn, err := ln.Accept()
		if err != nil {
			return err
		}
		peer := conn.RemoteAddr().String()
		io.WriteString(conn, greeting(peer))
		conn.Close()
		emit("peer", peer)
	}
	emit("served", served)
	return nil
}

func serveUDP(addr string, count int) error {
	conn, err := net.ListenPacket("udp4", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	emit("listening", conn.LocalAddr())
	buf := make([]byte, 64*1024)
	served := 0
	for ; count == 0 || served < count; served++ {
		_, from, err := conn.ReadFrom(buf)
		if err != nil {
			return err
		}
		if _, err := conn.WriteTo([]byte(greeting(from.String())), from); err != nil {
			return err
		}
		emit("peer", from)
	}
	emit("served", served)
	return nil
}

// cmdDial connects to ADDR and prints the one line the server sends back.
// The whole exchange must finish within --timeout.
func cmdDial(args []string) error {
	pos, flags, err := parseFlags(args, []string{"udp"}, []string{"timeout"})
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("needs exactly one ADDR (host:port)")
	}
	timeout := 5 * time.Second
	if t, ok := flags["timeout"]; ok {
		if timeout, err = time.ParseDuration(t); err != nil || timeout <= 0 {
			return usagef("bad --timeout %q", t)
		}
	}
	network := "tcp"
	if flags["udp"] != "" {
		network = "udp"
	}
	line, local, err := exchange(network, pos[0], time.Now().Add(timeout))
	if err != nil {
		emit("dial", "failed")
		return err
	}
	emit("dial", "ok")
	emit("response", line)
	emit("local", local)
	return nil
}

// exchange dials and reads one line; over UDP it first sends a datagram,
// since a UDP server only learns of a client from what it receives.
func exchange(network, addr string, deadline time.Time) (line, local string, err error) {
	d := net.Dialer{Deadline: deadline}
	conn, err := d.Dial(network, addr)
	if err != nil {
		return "", "", err
	}
	defer conn.Close()
	conn.SetDeadline(deadline)
	if network == "udp" {
		line, err = udpRoundTrip(conn)
	} else {
		line, err = bufio.NewReader(conn).ReadString('\n')
		if errors.Is(err, io.EOF) && line != "" {
			err = nil // the server closed without a final newline
		}
	}
	if err != nil {
		return "", "", fmt.Errorf("read from %s: %w", addr, err)
	}
	return strings.TrimRight(line, "\r\n"), conn.LocalAddr().String(), nil
}

// udpRoundTrip sends one datagram and returns the first line of the reply.
// A closed port answers with ICMP, which the read reports as "connection refused".
func udpRoundTrip(conn net.Conn) (string, error) {
	if _, err := conn.Write([]byte("ping\n")); err != nil {
		return "", err
	}
	buf := make([]byte, 64*1024)
	n, err := conn.Read(buf)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(buf[:n]), "\n")
	return line, nil
}
