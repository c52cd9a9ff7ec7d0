// Packet marks shared with Cilium's datapath conventions (SPEC.md "Datapath layout").
#pragma once

#include <cstdint>

namespace portcullis::datapath {

// Traffic being redirected to a proxy listener carries 0x200 under this mask.
inline constexpr uint32_t kMarkToProxy = 0x200;
inline constexpr uint32_t kMarkMagicMask = 0xf00;
// Traffic the proxy itself sends (SO_MARK on upstream sockets): never redirected again.
inline constexpr uint32_t kMarkFromProxy = 0xa00;
// Mask used to recognise from-proxy traffic in raw NOTRACK rules (Cilium: 0xfffffeff).
inline constexpr uint32_t kMarkFromProxyMask = 0xfffffeff;
// What the sockets that answer redirected clients send (listeners, so their SYN-ACKs and
// accepted sockets; DNS reply sockets): Cilium's other proxy mark. Under the mask it is
// from-proxy traffic like the upstream sockets', but the exact mark tells the two apart, which
// the raw OUTPUT rules need for an upstream connection to the node itself (README).
inline constexpr uint32_t kMarkProxyAnswer = 0xb00;
static_assert((kMarkProxyAnswer & kMarkFromProxyMask) == kMarkFromProxy);

// Cilium's formula: the listener port in network byte order in the upper 16 bits.
// port 39799 -> 0x779b0200, port 15503 -> 0x8f3c0200.
constexpr uint32_t listenerMark(uint16_t port) {
  const uint32_t network_order = static_cast<uint16_t>((port >> 8) | (port << 8));
  return kMarkToProxy | (network_order << 16);
}

static_assert(listenerMark(39799) == 0x779b0200);
static_assert(listenerMark(15503) == 0x8f3c0200);

}  // namespace portcullis::datapath
