// This file is copied INTO a private copy of github.com/hashicorp/memberlist (Debian package
// golang-github-hashicorp-memberlist-dev) by scripts/memberlist-golden.sh, so that it can call
// the package's unexported encoders. It is never compiled as part of metallb-rs.
package memberlist

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
	"net"

	"github.com/hashicorp/go-msgpack/codec"
)

// GoldenVector is one named encoding produced by the real memberlist code.
type GoldenVector struct {
	Name  string
	Bytes []byte
}

func mustEncode(t messageType, v interface{}) []byte {
	buf, err := encode(t, v)
	if err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// MetalLBKey derives the AES key the way MetalLB's speaker does
// (docs/memberlist.md#encryption-key): sha256.New().Sum(secret) appends the empty-input digest
// to the secret.
func MetalLBKey(secret string) []byte {
	return sha256.New().Sum([]byte(secret))[:16]
}

// XorShiftBytes is the deterministic input generator mirrored by the Rust tests.
func XorShiftBytes(n int, alphabet int) []byte {
	out := make([]byte, n)
	x := uint32(2463534242)
	for i := range out {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		if alphabet == 256 {
			out[i] = byte(x)
		} else {
			out[i] = 'a' + byte(x%uint32(alphabet))
		}
	}
	return out
}

func lzwOnly(in []byte) []byte {
	c, err := compressPayload(in)
	if err != nil {
		panic(err)
	}
	var m compress
	if err := decode(c.Bytes()[1:], &m); err != nil {
		panic(err)
	}
	return m.Buf
}

func pushPullBytes(join bool, nodes []pushNodeState, user []byte) []byte {
	buf := bytes.NewBuffer(nil)
	buf.WriteByte(byte(pushPullMsg))
	hd := codec.MsgpackHandle{}
	enc := codec.NewEncoder(buf, &hd)
	header := pushPullHeader{Nodes: len(nodes), UserStateLen: len(user), Join: join}
	if err := enc.Encode(&header); err != nil {
		panic(err)
	}
	for i := range nodes {
		if err := enc.Encode(&nodes[i]); err != nil {
			panic(err)
		}
	}
	buf.Write(user)
	return buf.Bytes()
}

// GoldenVectors returns every wire form the Rust codec is tested against.
func GoldenVectors() []GoldenVector {
	var out []GoldenVector
	add := func(name string, b []byte) { out = append(out, GoldenVector{name, b}) }

	ipA := net.ParseIP("10.0.0.1").To4()
	ipC := net.ParseIP("10.0.0.3").To4()
	ip6 := net.ParseIP("fd00::1:2")
	vsn := []uint8{1, 5, 2, 0, 0, 0}

	pingBytes := mustEncode(pingMsg, &ping{SeqNo: 7, Node: "node-b"})
	add("ping", pingBytes)
	add("ping-source", mustEncode(pingMsg, &ping{SeqNo: 300, Node: "node-b",
		SourceAddr: ipA, SourcePort: 7946, SourceNode: "node-a"}))
	add("indirect-ping", mustEncode(indirectPingMsg, &indirectPingReq{SeqNo: 70000, Target: ipC,
		Port: 7946, Node: "node-c", Nack: true, SourceAddr: ipA, SourcePort: 7946, SourceNode: "node-a"}))
	add("indirect-ping-plain", mustEncode(indirectPingMsg, &indirectPingReq{SeqNo: 1, Target: ipC,
		Port: 7946, Node: "node-c"}))
	add("ack", mustEncode(ackRespMsg, &ackResp{SeqNo: 7}))
	add("ack-payload", mustEncode(ackRespMsg, &ackResp{SeqNo: 4294967295, Payload: []byte{1, 2, 3}}))
	add("nack", mustEncode(nackRespMsg, &nackResp{SeqNo: 9}))
	suspectBytes := mustEncode(suspectMsg, &suspect{Incarnation: 3, Node: "node-c", From: "node-a"})
	add("suspect", suspectBytes)
	aliveBytes := mustEncode(aliveMsg, &alive{Incarnation: 1, Node: "node-a", Addr: ipA, Port: 7946, Vsn: vsn})
	add("alive", aliveBytes)
	long := "speaker-node-with-a-rather-long-hostname.example"
	meta := bytes.Repeat([]byte{0xab}, 40)
	add("alive-v6-meta", mustEncode(aliveMsg, &alive{Incarnation: 65536, Node: long, Addr: ip6,
		Port: 7947, Meta: meta, Vsn: vsn}))
	add("dead", mustEncode(deadMsg, &dead{Incarnation: 5, Node: "node-c", From: "node-a"}))
	add("dead-leave", mustEncode(deadMsg, &dead{Incarnation: 2, Node: "node-a", From: "node-a"}))
	add("err", mustEncode(errMsg, &errResp{Error: "boom"}))
	add("compound", makeCompoundMessage([][]byte{pingBytes, suspectBytes}).Bytes())

	comp, err := compressPayload(aliveBytes)
	if err != nil {
		panic(err)
	}
	add("compress-alive", comp.Bytes())

	crc := make([]byte, 5, 5+len(pingBytes))
	crc[0] = byte(hasCrcMsg)
	binary.BigEndian.PutUint32(crc[1:], crc32.ChecksumIEEE(pingBytes))
	add("crc-ping", append(crc, pingBytes...))

	nodes := []pushNodeState{
		{Name: "node-a", Addr: ipA, Port: 7946, Incarnation: 1, State: StateAlive, Vsn: vsn},
		{Name: "node-c", Addr: ipC, Port: 7946, Incarnation: 4, State: StateSuspect, Vsn: vsn},
		{Name: "node-d", Addr: ip6, Port: 7946, Meta: []byte("m"), Incarnation: 9, State: StateDead, Vsn: vsn},
		{Name: "node-e", Addr: ipC, Port: 7950, Incarnation: 2, State: StateLeft, Vsn: vsn},
	}
	pp := pushPullBytes(true, nodes, nil)
	add("push-pull", pp)
	add("push-pull-user", pushPullBytes(false, nodes[:1], []byte("user-state")))
	ppc, err := compressPayload(pp)
	if err != nil {
		panic(err)
	}
	add("push-pull-compressed", ppc.Bytes())

	key := MetalLBKey("abc")
	add("key-abc", key)
	add("key-long", MetalLBKey("0123456789abcdefXYZ"))

	var v1 bytes.Buffer
	if err := encryptPayload(1, key, pingBytes, nil, &v1); err != nil {
		panic(err)
	}
	add("udp-encrypted-v1", v1.Bytes())
	var v0 bytes.Buffer
	if err := encryptPayload(0, key, pingBytes, nil, &v0); err != nil {
		panic(err)
	}
	add("udp-encrypted-v0", v0.Bytes())

	// Stream encryption exactly as encryptLocalState frames it: type byte, big-endian
	// length, then the sealed payload with the 5 header bytes as additional data.
	var st bytes.Buffer
	st.WriteByte(byte(encryptMsg))
	size := make([]byte, 4)
	binary.BigEndian.PutUint32(size, uint32(encryptedLength(1, len(ppc.Bytes()))))
	st.Write(size)
	if err := encryptPayload(1, key, ppc.Bytes(), st.Bytes()[:5], &st); err != nil {
		panic(err)
	}
	add("push-pull-encrypted", st.Bytes())

	add("lzw-empty", lzwOnly(nil))
	add("lzw-tobeornot", lzwOnly([]byte("TOBEORNOTTOBEORTOBEORNOT")))
	add("lzw-abcd-60000", lzwOnly(XorShiftBytes(60000, 4)))
	add("lzw-bytes-8192", lzwOnly(XorShiftBytes(8192, 256)))
	return out
}
