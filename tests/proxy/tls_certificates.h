// Test PKI made at test time with OpenSSL: keys, a CA, leaves signed by it, PEM files written
// with a chosen mode, and a handshake between two SSL_CTXs over a BIO pair (no sockets).
#pragma once

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace portcullis::proxy::tls_testing {

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* c) const { X509_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;
using Ssl = std::unique_ptr<SSL, SslFree>;
using Ctx = std::unique_ptr<SSL_CTX, CtxFree>;

inline Key ecKey() { return Key(EVP_EC_gen("P-256")); }
inline Key rsaKey() { return Key(EVP_RSA_gen(2048)); }

inline void addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, &v3, nid, value.c_str());
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

struct CertSpec {
  std::string common_name;
  std::string subject_alt_names;  // "DNS:a.test,DNS:b.test"; empty: none
  bool ca = false;
  long not_before = -3600;  // seconds from now
  long not_after = 86400;
};

// Signed by (issuer, issuer_key); self-signed when issuer is null.
inline Cert makeCert(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  static long serial = 1000;
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), ++serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.not_before);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.not_after);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(cert.get(), key);
  X509* signer = issuer ? issuer : cert.get();
  if (spec.ca) {
    addExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    addExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    addExtension(cert.get(), signer, NID_basic_constraints, "CA:FALSE");
  }
  if (!spec.subject_alt_names.empty())
    addExtension(cert.get(), signer, NID_subject_alt_name, spec.subject_alt_names);
  addExtension(cert.get(), signer, NID_subject_key_identifier, "hash");
  X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256());
  return cert;
}

// A CA and a server leaf it signed, for tests that need both sides.
struct Pki {
  explicit Pki(const std::string& name = "portcullis test CA")
      : ca_key(rsaKey()),
        ca(makeCert({.common_name = name, .subject_alt_names = "", .ca = true}, ca_key.get(),
                    nullptr, nullptr)) {}
  Key ca_key;
  Cert ca;
  Cert leaf(const std::string& dns_name, EVP_PKEY* key) const {
    CertSpec spec;
    spec.common_name = dns_name;
    spec.subject_alt_names = "DNS:" + dns_name;
    return makeCert(spec, key, ca.get(), ca_key.get());
  }
};

inline std::string pem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

// PKCS#8 PEM; encrypted with `passphrase` when it is not empty.
inline std::string pem(EVP_PKEY* key, const std::string& passphrase = {}) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (passphrase.empty()) {
    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(), passphrase.data(),
                                  static_cast<int>(passphrase.size()), nullptr, nullptr);
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

// A directory removed with its files at the end of the test.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/portcullis-tls-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() {
    for (const std::string& f : files_) ::unlink(f.c_str());
    ::rmdir(path_.c_str());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string write(const std::string& name, const std::string& content, mode_t mode = 0644) {
    const std::string file = path_ + "/" + name;
    ::unlink(file.c_str());
    std::ofstream(file, std::ios::binary) << content;
    ::chmod(file.c_str(), mode);
    files_.push_back(file);
    return file;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

// A client SSL_CTX trusting exactly `ca` (none: trusts nothing).
inline Ctx clientTrusting(X509* ca, int max_version = 0) {
  Ctx ctx(SSL_CTX_new(TLS_client_method()));
  if (ca) X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), ca);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (max_version) SSL_CTX_set_max_proto_version(ctx.get(), max_version);
  return ctx;
}

// A server SSL_CTX presenting `cert` with `key`.
inline Ctx serverWith(X509* cert, EVP_PKEY* key) {
  Ctx ctx(SSL_CTX_new(TLS_server_method()));
  SSL_CTX_use_certificate(ctx.get(), cert);
  SSL_CTX_use_PrivateKey(ctx.get(), key);
  return ctx;
}

struct Handshake {
  bool client_ok = false;
  bool server_ok = false;
  long verify_result = -1;  // the client's X509_V_* verdict on the server's chain
  std::string alpn;         // what the server selected, as the client saw it
  int version = 0;
  bool resumed = false;     // the client resumed an earlier session
  Cert peer;  // the certificate the client received
};

// Runs both sides' handshakes over a BIO pair until both end (bounded). `prepare_client` sets
// the client's SNI, host check, ALPN offer... before the first flight.
template <class PrepareClient>
Handshake handshake(SSL_CTX* server_ctx, SSL_CTX* client_ctx, PrepareClient prepare_client) {
  Ssl server(SSL_new(server_ctx));
  Ssl client(SSL_new(client_ctx));
  BIO* server_bio = nullptr;
  BIO* client_bio = nullptr;
  BIO_new_bio_pair(&server_bio, 0, &client_bio, 0);
  SSL_set_bio(server.get(), server_bio, server_bio);
  SSL_set_bio(client.get(), client_bio, client_bio);
  SSL_set_accept_state(server.get());
  SSL_set_connect_state(client.get());
  prepare_client(client.get());
  Handshake out;
  bool client_done = false;
  bool server_done = false;
  for (int round = 0; round < 50 && !(client_done && server_done); ++round) {
    if (!client_done) {
      const int r = SSL_do_handshake(client.get());
      const int e = SSL_get_error(client.get(), r);
      if (r == 1) client_done = out.client_ok = true;
      else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) client_done = true;
    }
    if (!server_done) {
      const int r = SSL_do_handshake(server.get());
      const int e = SSL_get_error(server.get(), r);
      if (r == 1) server_done = out.server_ok = true;
      else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) server_done = true;
    }
  }
  // TLS 1.3: the server counts as done once it sent its flight; the client's Finished reaches
  // it on the next read. One more server step settles it.
  if (out.client_ok && !out.server_ok) out.server_ok = SSL_do_handshake(server.get()) == 1;
  // TLS 1.3 session tickets come after the handshake: one read takes them in (none is waiting
  // after that, so it returns WANT_READ).
  char byte;
  if (out.client_ok) SSL_read(client.get(), &byte, 1);
  out.resumed = SSL_session_reused(client.get()) == 1;
  ERR_clear_error();
  out.verify_result = SSL_get_verify_result(client.get());
  const unsigned char* alpn = nullptr;
  unsigned int alpn_length = 0;
  SSL_get0_alpn_selected(client.get(), &alpn, &alpn_length);
  if (alpn) out.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_length);
  out.version = SSL_version(client.get());
  out.peer.reset(SSL_get1_peer_certificate(client.get()));
  return out;
}

}  // namespace portcullis::proxy::tls_testing
