// IPv4/IPv6 addresses and CIDR prefixes: the vocabulary shared by policy (selectors),
// datapath (rendered rules) and proxy (socket addresses). Pure value types.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace portcullis {

enum class Family : uint8_t { kV4, kV6 };

class IpAddress {
 public:
  IpAddress() = default;  // 0.0.0.0
  static IpAddress v4(uint32_t host_order);
  static IpAddress v6(const std::array<uint8_t, 16>& bytes);
  // Accepts dotted quads and RFC 4291 text; no brackets, no zone ids.
  static std::optional<IpAddress> parse(std::string_view text);

  Family family() const { return family_; }
  bool isV4() const { return family_ == Family::kV4; }
  // Bytes in network order; an IPv4 address uses the first 4.
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  uint32_t v4HostOrder() const;
  int bitLength() const { return isV4() ? 32 : 128; }
  // Bit i counted from the most significant bit of the first byte.
  bool bit(int i) const { return (bytes_[i / 8] >> (7 - i % 8)) & 1; }
  // The longest text: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255".
  static constexpr size_t kMaxTextLength = 45;
  // The text inet_ntop(3) prints (RFC 5952 for IPv6): write() puts it at `out`, which has room
  // for kMaxTextLength characters, and returns its end (no terminating NUL).
  char* write(char* out) const;
  void appendTo(std::string& out) const;
  std::string toString() const;

  auto operator<=>(const IpAddress&) const = default;

 private:
  Family family_ = Family::kV4;
  std::array<uint8_t, 16> bytes_{};
};

class Cidr {
 public:
  Cidr() = default;
  Cidr(IpAddress address, int prefix_length);  // host bits are cleared
  // "198.18.0.0/15", "2001:db8::/32", or a bare address (a host prefix).
  static std::optional<Cidr> parse(std::string_view text);

  const IpAddress& address() const { return address_; }
  int prefixLength() const { return prefix_length_; }
  Family family() const { return address_.family(); }
  bool contains(const IpAddress& a) const;
  std::string toString() const;

  auto operator<=>(const Cidr&) const = default;

 private:
  IpAddress address_;
  int prefix_length_ = 0;
};

}  // namespace portcullis
