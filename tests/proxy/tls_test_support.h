// ClientHellos for the TLS tests, made by OpenSSL itself (SSL_connect on memory BIOs), so the
// parser meets what real clients send; and hand-built ones for what OpenSSL never sends.
#pragma once

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace portcullis::proxy::tls_testing {

// The first flight of a client: its ClientHello record(s). max_version: TLS1_2_VERSION or
// TLS1_3_VERSION. An empty server_name sends no SNI.
inline std::string clientHello(int max_version, const std::string& server_name) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        &SSL_CTX_free);
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx.get(), max_version);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), &SSL_free);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), in, out);  // ssl owns both
  if (!server_name.empty()) SSL_set_tlsext_host_name(ssl.get(), server_name.c_str());
  SSL_set_connect_state(ssl.get());
  SSL_do_handshake(ssl.get());  // WANT_READ: the ClientHello is in `out`
  char* data = nullptr;
  const long n = BIO_get_mem_data(out, &data);
  return std::string(data, static_cast<size_t>(n));
}

inline void put(std::string& out, uint32_t value, size_t width) {
  for (size_t i = width; i-- > 0;) out.push_back(static_cast<char>(value >> (8 * i) & 0xff));
}

// The same handshake bytes re-cut into records of at most `size` bytes.
inline std::string refragment(const std::string& records, size_t size) {
  std::string handshake;
  for (size_t pos = 0; pos + 5 <= records.size();) {
    const size_t length = static_cast<uint8_t>(records[pos + 3]) << 8 |
                          static_cast<uint8_t>(records[pos + 4]);
    handshake += records.substr(pos + 5, length);
    pos += 5 + length;
  }
  std::string out;
  for (size_t pos = 0; pos < handshake.size(); pos += size) {
    const std::string piece = handshake.substr(pos, size);
    out += "\x16\x03\x01";
    put(out, static_cast<uint32_t>(piece.size()), 2);
    out += piece;
  }
  return out;
}

// A ClientHello with exactly these extensions (type, body), in one record when it fits.
inline std::string handMade(const std::vector<std::pair<uint16_t, std::string>>& extensions,
                            bool with_extension_block = true) {
  std::string body;
  put(body, 0x0303, 2);
  body += std::string(32, 'r');
  body += '\0';                       // no session id
  body += std::string("\x00\x02\x13\x01", 4);  // one cipher suite
  body += std::string("\x01\x00", 2);          // null compression
  if (with_extension_block) {
    std::string block;
    for (const auto& [type, data] : extensions) {
      put(block, type, 2);
      put(block, static_cast<uint32_t>(data.size()), 2);
      block += data;
    }
    put(body, static_cast<uint32_t>(block.size()), 2);
    body += block;
  }
  std::string handshake = "\x01";
  put(handshake, static_cast<uint32_t>(body.size()), 3);
  handshake += body;
  return refragment("\x16\x03\x01" + std::string(1, static_cast<char>(handshake.size() >> 8)) +
                        std::string(1, static_cast<char>(handshake.size() & 0xff)) + handshake,
                    16384);
}

inline std::string sniExtension(const std::vector<std::string>& host_names) {
  std::string list;
  for (const std::string& name : host_names) {
    list += '\0';
    put(list, static_cast<uint32_t>(name.size()), 2);
    list += name;
  }
  std::string out;
  put(out, static_cast<uint32_t>(list.size()), 2);
  return out + list;
}

}  // namespace portcullis::proxy::tls_testing
