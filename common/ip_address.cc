#include "common/ip_address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace portcullis {
namespace {

constexpr char kHex[] = "0123456789abcdef";

char* putDecimalByte(char* p, unsigned v) {
  if (v >= 100) *p++ = static_cast<char>('0' + v / 100);
  if (v >= 10) *p++ = static_cast<char>('0' + v / 10 % 10);
  *p++ = static_cast<char>('0' + v % 10);
  return p;
}

char* putV4(char* p, const uint8_t* b) {
  for (int i = 0; i < 4; ++i) {
    if (i > 0) *p++ = '.';
    p = putDecimalByte(p, b[i]);
  }
  return p;
}

char* putHexWord(char* p, unsigned w) {
  bool started = false;
  for (int shift = 12; shift >= 0; shift -= 4) {
    const unsigned nibble = (w >> shift) & 0xf;
    if (nibble != 0 || started || shift == 0) {
      *p++ = kHex[nibble];
      started = true;
    }
  }
  return p;
}

// RFC 5952 text, character for character what glibc's inet_ntop prints (tested against it):
// lowercase hex without leading zeros, the longest run of two or more zero words (the first of
// equal runs) as "::", and the last 32 bits dotted for ::a.b.c.d and ::ffff:a.b.c.d.
char* putV6(char* p, const uint8_t* b) {
  unsigned words[8];
  for (int i = 0; i < 8; ++i) words[i] = unsigned{b[2 * i]} << 8 | b[2 * i + 1];
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (words[i] != 0) {
      ++i;
      continue;
    }
    int end = i;
    while (end < 8 && words[end] == 0) ++end;
    if (end - i > best_len) {
      best = i;
      best_len = end - i;
    }
    i = end;
  }
  if (best_len < 2) best = -1;
  for (int i = 0; i < 8; ++i) {
    if (best >= 0 && i >= best && i < best + best_len) {
      if (i == best) *p++ = ':';
      continue;
    }
    if (i > 0) *p++ = ':';
    if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && words[5] == 0xffff))) {
      return putV4(p, b + 12);
    }
    p = putHexWord(p, words[i]);
  }
  if (best >= 0 && best + best_len == 8) *p++ = ':';
  return p;
}

}  // namespace

IpAddress IpAddress::v4(uint32_t host_order) {
  IpAddress a;
  a.family_ = Family::kV4;
  a.bytes_[0] = static_cast<uint8_t>(host_order >> 24);
  a.bytes_[1] = static_cast<uint8_t>(host_order >> 16);
  a.bytes_[2] = static_cast<uint8_t>(host_order >> 8);
  a.bytes_[3] = static_cast<uint8_t>(host_order);
  return a;
}

IpAddress IpAddress::v6(const std::array<uint8_t, 16>& bytes) {
  IpAddress a;
  a.family_ = Family::kV6;
  a.bytes_ = bytes;
  return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress a;
  if (inet_pton(AF_INET, buf, a.bytes_.data()) == 1) {
    a.family_ = Family::kV4;
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.bytes_.data()) == 1) {
    a.family_ = Family::kV6;
    return a;
  }
  return std::nullopt;
}

uint32_t IpAddress::v4HostOrder() const {
  return (uint32_t{bytes_[0]} << 24) | (uint32_t{bytes_[1]} << 16) | (uint32_t{bytes_[2]} << 8) |
         uint32_t{bytes_[3]};
}

// By hand: inet_ntop formats with sprintf, about 1,700 instructions per address, and a DNS
// access record carries at least three.
char* IpAddress::write(char* out) const {
  return isV4() ? putV4(out, bytes_.data()) : putV6(out, bytes_.data());
}

void IpAddress::appendTo(std::string& out) const {
  char buf[kMaxTextLength];
  out.append(buf, write(buf));
}

std::string IpAddress::toString() const {
  std::string out;
  appendTo(out);
  return out;
}

Cidr::Cidr(IpAddress address, int prefix_length) : prefix_length_(prefix_length) {
  std::array<uint8_t, 16> bytes = address.bytes();
  const int total = address.bitLength();
  for (int i = prefix_length; i < total; ++i) bytes[i / 8] &= static_cast<uint8_t>(~(0x80 >> (i % 8)));
  address_ = address.isV4() ? IpAddress::v4((uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) |
                                            (uint32_t{bytes[2]} << 8) | uint32_t{bytes[3]})
                            : IpAddress::v6(bytes);
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  const auto slash = text.find('/');
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  int prefix = address->bitLength();
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
    if (prefix < 0 || prefix > address->bitLength()) return std::nullopt;
  }
  return Cidr(*address, prefix);
}

bool Cidr::contains(const IpAddress& a) const {
  if (a.family() != family()) return false;
  const auto& x = a.bytes();
  const auto& y = address_.bytes();
  const int full = prefix_length_ / 8;
  if (std::memcmp(x.data(), y.data(), full) != 0) return false;
  const int rest = prefix_length_ % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (x[full] & mask) == (y[full] & mask);
}

std::string Cidr::toString() const {
  return address_.toString() + "/" + std::to_string(prefix_length_);
}

}  // namespace portcullis
