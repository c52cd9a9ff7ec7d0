// Builds DNS messages for the DNS proxy's tests, independently of the code under test.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::proxy::testing {

inline void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

inline void put32(std::vector<uint8_t>& out, uint32_t v) {
  put16(out, static_cast<uint16_t>(v >> 16));
  put16(out, static_cast<uint16_t>(v));
}

// "www.example.test" (a trailing dot is optional; "" and "." are the root), no compression.
inline std::vector<uint8_t> encodeName(std::string_view name) {
  std::vector<uint8_t> out;
  while (!name.empty() && name != ".") {
    const size_t dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    out.push_back(static_cast<uint8_t>(label.size()));
    out.insert(out.end(), label.begin(), label.end());
    name = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
  }
  out.push_back(0);
  return out;
}

inline std::vector<uint8_t> header(uint16_t id, uint16_t flags, uint16_t qd, uint16_t an = 0,
                                   uint16_t ns = 0, uint16_t ar = 0) {
  std::vector<uint8_t> out;
  for (uint16_t v : {id, flags, qd, an, ns, ar}) put16(out, v);
  return out;
}

inline void append(std::vector<uint8_t>& out, std::span<const uint8_t> more) {
  out.insert(out.end(), more.begin(), more.end());
}

constexpr uint16_t kRdFlag = 0x0100;

inline std::vector<uint8_t> query(uint16_t id, std::string_view name, uint16_t type = 1,
                                  uint16_t flags = kRdFlag) {
  std::vector<uint8_t> out = header(id, flags, 1);
  append(out, encodeName(name));
  put16(out, type);
  put16(out, 1);
  return out;
}

// A query with an EDNS0 OPT record advertising `udp_size`.
inline std::vector<uint8_t> ednsQuery(uint16_t id, std::string_view name, uint16_t udp_size) {
  std::vector<uint8_t> out = header(id, kRdFlag, 1, 0, 0, 1);
  append(out, encodeName(name));
  put16(out, 1);
  put16(out, 1);
  out.push_back(0);  // root owner
  put16(out, 41);    // OPT
  put16(out, udp_size);
  put32(out, 0);
  put16(out, 0);
  return out;
}

struct Rr {
  std::string name;
  uint16_t type = 1;
  uint32_t ttl = 300;
  std::vector<uint8_t> rdata;
};

inline Rr aRecord(std::string name, uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint32_t ttl) {
  return {std::move(name), 1, ttl, {a, b, c, d}};
}

inline Rr aaaaRecord(std::string name, uint8_t last, uint32_t ttl) {
  std::vector<uint8_t> v6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last};
  return {std::move(name), 28, ttl, v6};
}

inline Rr cnameRecord(std::string name, std::string_view target, uint32_t ttl) {
  return {std::move(name), 5, ttl, encodeName(target)};
}

// A response to `name`/`type` with `answers`; flags default to QR|RD|RA and rcode 0.
inline std::vector<uint8_t> response(uint16_t id, std::string_view name, uint16_t type,
                                     const std::vector<Rr>& answers, uint16_t flags = 0x8180) {
  std::vector<uint8_t> out = header(id, flags, 1, static_cast<uint16_t>(answers.size()));
  append(out, encodeName(name));
  put16(out, type);
  put16(out, 1);
  for (const Rr& rr : answers) {
    append(out, encodeName(rr.name));
    put16(out, rr.type);
    put16(out, 1);
    put32(out, rr.ttl);
    put16(out, static_cast<uint16_t>(rr.rdata.size()));
    append(out, rr.rdata);
  }
  return out;
}

inline uint16_t idOf(std::span<const uint8_t> m) { return static_cast<uint16_t>(m[0] << 8 | m[1]); }
inline uint16_t flagsOf(std::span<const uint8_t> m) {
  return static_cast<uint16_t>(m[2] << 8 | m[3]);
}
inline int rcodeOf(std::span<const uint8_t> m) { return m[3] & 0xf; }

}  // namespace portcullis::proxy::testing
