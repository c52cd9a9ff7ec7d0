// The one wrapper of OpenSSL's certificate, key and context APIs (STYLE.md 9); the sessions see
// only the boost::asio::ssl::context objects built here.
#include "proxy/tls_interception.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <list>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "proxy/tls_interception_files.h"

namespace portcullis::proxy {
namespace {

namespace ssl = boost::asio::ssl;

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using CtxPtr = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX, SSL_CTX_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;
void freeInfos(STACK_OF(X509_INFO) * infos) { sk_X509_INFO_pop_free(infos, X509_INFO_free); }
using InfoStackPtr = std::unique_ptr<STACK_OF(X509_INFO), Deleter<STACK_OF(X509_INFO), freeInfos>>;

// OpenSSL's reason for the last failure, and an empty error queue for the next caller (the queue
// is per thread; a stale entry would be blamed on an unrelated later call).
std::string opensslReason() {
  const unsigned long code = ERR_peek_last_error();
  std::string out;
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    out = buf;
  }
  ERR_clear_error();
  return out;
}

BioPtr memoryBio(const std::string& bytes) {
  return BioPtr(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

// Every PEM certificate of the file, in order (leaf first for a server certificate file).
TlsFileResult<std::vector<X509Ptr>> readCertificates(const TlsFile& file) {
  BioPtr bio = memoryBio(file.bytes);
  std::vector<X509Ptr> out;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(cert);
  ERR_clear_error();  // the end of the file reads as "no start line"
  if (out.empty()) return TlsFileError(TlsError::kBadPem, file.path, "no certificate");
  for (const X509Ptr& cert : out) {
    if (X509_cmp_current_time(X509_get0_notAfter(cert.get())) < 0)
      return TlsFileError(TlsError::kExpired, file.path);
  }
  return out;
}

TlsFileResult<PkeyPtr> readKey(const TlsFile& file) {
  // Called only for an encrypted key: no terminal prompt (the default), just a refusal.
  bool asked = false;
  auto no_passphrase = [](char*, int, int, void* asked_flag) {
    *static_cast<bool*>(asked_flag) = true;
    return -1;
  };
  BioPtr bio = memoryBio(file.bytes);
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, &asked));
  if (asked) {
    ERR_clear_error();
    return TlsFileError(TlsError::kEncryptedKey, file.path);
  }
  if (!key) return TlsFileError(TlsError::kBadPem, file.path, "no private key");
  ERR_clear_error();
  return key;
}

// RFC 7301 3.2: the server picks from the client's list; only http/1.1 until HTTP/2 exists.
// A client that offers no http/1.1 gets no ALPN answer rather than a fatal alert.
int selectHttp11(SSL*, const unsigned char** out, unsigned char* out_length,
                 const unsigned char* in, unsigned int in_length, void*) {
  for (unsigned int i = 0; i < in_length;) {
    const unsigned int length = in[i];
    if (i + 1 + length > in_length) break;
    if (length == 8 && std::memcmp(in + i + 1, "http/1.1", 8) == 0) {
      *out = in + i + 1;
      *out_length = 8;
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + length;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

// issue 7 "Hardening": TLS 1.2+, OpenSSL's default ciphers, no renegotiation, no compression.
CtxPtr newContext(const SSL_METHOD* method) {
  CtxPtr ctx(SSL_CTX_new(method));
  if (!ctx) return ctx;
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  return ctx;
}

// A server context presenting `leaf` (then `chain`) with `key`.
Result<std::shared_ptr<ssl::context>> serverContextFor(X509* leaf, const std::vector<X509*>& chain,
                                                       EVP_PKEY* key) {
  CtxPtr ctx = newContext(TLS_server_method());
  bool built = ctx && SSL_CTX_use_certificate(ctx.get(), leaf) == 1 &&
               SSL_CTX_use_PrivateKey(ctx.get(), key) == 1;
  for (X509* cert : chain) built = built && SSL_CTX_add1_chain_cert(ctx.get(), cert) == 1;
  if (!built) {
    ERR_clear_error();
    return make_error_code(TlsError::kContextFailed);
  }
  SSL_CTX_set_alpn_select_cb(ctx.get(), selectHttp11, nullptr);
  return std::make_shared<ssl::context>(ctx.release());  // the context owns it now
}

// Lowercased, without a trailing dot; only what may stand in a dNSName (RFC 5280 4.2.1.6),
// so nothing the client sent can add another name or field to the certificate.
Result<std::string> leafName(std::string_view server_name) {
  if (!server_name.empty() && server_name.back() == '.') server_name.remove_suffix(1);
  if (server_name.empty()) return make_error_code(TlsError::kNoServerName);
  if (server_name.size() > 253) return make_error_code(TlsError::kInvalidServerName);
  std::string name;
  size_t label = 0;
  for (char c : server_name) {
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    const bool valid = (lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9') ||
                       lower == '-' || lower == '_' || lower == '.';
    if (!valid) return make_error_code(TlsError::kInvalidServerName);
    label = lower == '.' ? 0 : label + 1;
    if ((lower == '.' && (name.empty() || name.back() == '.')) || label > 63)
      return make_error_code(TlsError::kInvalidServerName);
    name += lower;
  }
  return name;
}

bool addExtension(X509* cert, X509V3_CTX* v3, int nid, const char* value) {
  ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, v3, nid, value));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

bool setSubjectAltName(X509* cert, const std::string& name) {
  NamesPtr names(GENERAL_NAMES_new());
  GENERAL_NAME* dns = GENERAL_NAME_new();
  ASN1_IA5STRING* text = ASN1_IA5STRING_new();
  if (!names || !dns || !text || ASN1_STRING_set(text, name.data(), static_cast<int>(name.size())) != 1) {
    GENERAL_NAME_free(dns);
    ASN1_IA5STRING_free(text);
    return false;
  }
  GENERAL_NAME_set0_value(dns, GEN_DNS, text);
  if (sk_GENERAL_NAME_push(names.get(), dns) == 0) {
    GENERAL_NAME_free(dns);
    return false;
  }
  return X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) == 1;
}

const EVP_MD* signingDigest(EVP_PKEY* key) {
  const int id = EVP_PKEY_get_id(key);
  return id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448 ? nullptr : EVP_sha256();
}

// TLS sessions toward origins, by server name, so the next connection to the same name resumes
// instead of making a full handshake (as HAProxy and nginx do toward their servers). Owned by the
// client SSL_CTX (ex_data), so it lives exactly as long as any SSL made from it. A session is
// only offered to the name it was verified for.
class OriginSessions {
 public:
  static constexpr size_t kMaxNames = 1024;

  static OriginSessions* of(SSL_CTX* ctx) {
    return static_cast<OriginSessions*>(SSL_CTX_get_ex_data(ctx, index()));
  }
  static bool attach(SSL_CTX* ctx) {
    auto* sessions = new OriginSessions;
    if (index() < 0 || SSL_CTX_set_ex_data(ctx, index(), sessions) != 1) {
      delete sessions;
      return false;
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, onNewSession);
    return true;
  }

  void offer(SSL* ssl, const std::string& name) {
    std::lock_guard lock(mutex_);
    auto it = by_name_.find(name);
    if (it != by_name_.end()) SSL_set_session(ssl, it->second.get());  // takes its own reference
  }

 private:
  using SessionPtr = std::unique_ptr<SSL_SESSION, Deleter<SSL_SESSION, SSL_SESSION_free>>;

  static int index() {
    static const int kIndex = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, freeSessions);
    return kIndex;
  }
  static void freeSessions(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
    delete static_cast<OriginSessions*>(ptr);
  }
  // Called on the I/O thread that received the session (TLS 1.3: a NewSessionTicket after the
  // handshake). A copy is kept: OpenSSL marks the connection's own session not resumable when
  // the connection ends without close_notify, which origins and resets often do.
  static int onNewSession(SSL* ssl, SSL_SESSION* session) {
    OriginSessions* sessions = of(SSL_get_SSL_CTX(ssl));
    // The name prepareOriginHandshake asked the certificate to carry (SSL_get_servername is
    // empty here when the origin did not acknowledge the SNI).
    const char* name = X509_VERIFY_PARAM_get0_host(SSL_get0_param(ssl), 0);
    if (!sessions || !name || SSL_get_verify_result(ssl) != X509_V_OK) return 0;
    std::lock_guard lock(sessions->mutex_);
    if (sessions->by_name_.size() >= kMaxNames && !sessions->by_name_.count(name))
      sessions->by_name_.erase(sessions->by_name_.begin());
    SessionPtr copy(SSL_SESSION_dup(session));
    if (copy) sessions->by_name_[name] = std::move(copy);
    return 0;  // OpenSSL keeps its reference
  }

  std::mutex mutex_;
  std::unordered_map<std::string, SessionPtr> by_name_;
};

}  // namespace

struct TlsInterception::Impl {
  struct Leaf {
    std::shared_ptr<ssl::context> context;
    std::chrono::steady_clock::time_point minted;
    std::list<std::string>::iterator order;
  };

  std::shared_ptr<ssl::context> fixed;  // certificate + privateKey
  X509Ptr ca;                           // ca-certificate + ca-key: minting
  PkeyPtr ca_key;
  PkeyPtr leaf_key;  // one key for every minted leaf: minting is then one signature
  bool ca_in_chain = false;
  std::unique_ptr<ssl::context> client;

  std::mutex mutex;
  std::unordered_map<std::string, Leaf> leaves;
  std::list<std::string> recent;  // most recently used first
  std::atomic<uint64_t> minted{0};

  Result<std::shared_ptr<ssl::context>> mint(const std::string& name);
};

Result<std::shared_ptr<ssl::context>> TlsInterception::Impl::mint(const std::string& name) {
  X509Ptr cert(X509_new());
  BnPtr serial(BN_new());
  bool built = cert && serial && X509_set_version(cert.get(), 2) == 1 &&
               // RFC 5280 4.1.2.2: positive, at most 20 octets, unpredictable.
               BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
               BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) != nullptr;
  const auto seconds = [](Duration d) {
    return static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(d).count());
  };
  built = built && X509_gmtime_adj(X509_getm_notBefore(cert.get()), -seconds(kLeafBackdate)) &&
          X509_gmtime_adj(X509_getm_notAfter(cert.get()), seconds(kLeafValidity));
  if (built && ASN1_TIME_compare(X509_get0_notAfter(cert.get()), X509_get0_notAfter(ca.get())) > 0)
    built = X509_set1_notAfter(cert.get(), X509_get0_notAfter(ca.get())) == 1;
  built = built && X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.get())) == 1 &&
          X509_set_pubkey(cert.get(), leaf_key.get()) == 1;
  // The CN is informative only (clients match the subjectAltName) and limited to 64 bytes.
  if (built && name.size() <= 64) {
    built = X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_ASC,
                                       reinterpret_cast<const unsigned char*>(name.data()),
                                       static_cast<int>(name.size()), -1, 0) == 1;
  }
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, ca.get(), cert.get(), nullptr, nullptr, 0);
  built = built && setSubjectAltName(cert.get(), name) &&
          addExtension(cert.get(), &v3, NID_basic_constraints, "critical,CA:FALSE") &&
          addExtension(cert.get(), &v3, NID_key_usage, "critical,digitalSignature") &&
          addExtension(cert.get(), &v3, NID_ext_key_usage, "serverAuth") &&
          addExtension(cert.get(), &v3, NID_subject_key_identifier, "hash") &&
          addExtension(cert.get(), &v3, NID_authority_key_identifier, "keyid:always") &&
          X509_sign(cert.get(), ca_key.get(), signingDigest(ca_key.get())) > 0;
  if (!built) {
    ERR_clear_error();
    return make_error_code(TlsError::kMintFailed);
  }
  minted.fetch_add(1, std::memory_order_relaxed);
  std::vector<X509*> chain;
  if (ca_in_chain) chain.push_back(ca.get());
  return serverContextFor(cert.get(), chain, leaf_key.get());
}

TlsInterception::TlsInterception(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsInterception::~TlsInterception() = default;

TlsFileResult<std::shared_ptr<const TlsInterception>> TlsInterception::load(
    const policy::TerminatingTls& terminating, const policy::OriginatingTls* originating) {
  auto files = readInterceptionFiles(terminating, originating);
  if (!files) return files.error().errors.front();
  return fromFiles(files.value());
}

TlsFileResult<std::shared_ptr<const TlsInterception>> TlsInterception::fromFiles(
    const TlsInterceptionFiles& files) {
  auto impl = std::make_unique<Impl>();
  if (!files.ca_certificate.path.empty()) {
    PC_TRY(ca, readCertificates(files.ca_certificate));
    PC_TRY(ca_key, readKey(files.ca_key));
    // basicConstraints CA:TRUE, and keyCertSign when a keyUsage is present (RFC 5280 4.2.1.9).
    if (X509_check_ca(ca.front().get()) != 1)
      return TlsFileError(TlsError::kNotCa, files.ca_certificate.path);
    if (X509_check_private_key(ca.front().get(), ca_key.get()) != 1) {
      ERR_clear_error();
      return TlsFileError(TlsError::kKeyMismatch, files.ca_certificate.path,
                          "its key is " + files.ca_key.path);
    }
    impl->ca = std::move(ca.front());
    impl->ca_key = std::move(ca_key);
    // An intermediate CA goes with each leaf; a root is the client's trust anchor already.
    impl->ca_in_chain = X509_check_issued(impl->ca.get(), impl->ca.get()) != X509_V_OK;
    impl->leaf_key.reset(EVP_EC_gen("P-256"));
    if (!impl->leaf_key) {
      return TlsFileError(make_error_code(TlsError::kContextFailed));
    }
  } else {
    PC_TRY(certs, readCertificates(files.certificate));
    PC_TRY(key, readKey(files.private_key));
    if (X509_check_private_key(certs.front().get(), key.get()) != 1) {
      ERR_clear_error();
      return TlsFileError(TlsError::kKeyMismatch, files.certificate.path,
                          "its key is " + files.private_key.path);
    }
    std::vector<X509*> chain;
    for (size_t i = 1; i < certs.size(); ++i) chain.push_back(certs[i].get());
    auto context = serverContextFor(certs.front().get(), chain, key.get());
    if (!context) return TlsFileError(context.error());
    impl->fixed = std::move(context.value());
  }

  CtxPtr client = newContext(TLS_client_method());
  if (!client) return TlsFileError(make_error_code(TlsError::kContextFailed));
  SSL_CTX_set_verify(client.get(), SSL_VERIFY_PEER, nullptr);
  if (!OriginSessions::attach(client.get()))
    return TlsFileError(make_error_code(TlsError::kContextFailed));
  if (files.ca_bundle.path.empty()) {
    if (SSL_CTX_set_default_verify_paths(client.get()) != 1)
      return TlsFileError(TlsError::kUnreadable, "the system CA bundle", opensslReason());
  } else {
    BioPtr bio = memoryBio(files.ca_bundle.bytes);
    InfoStackPtr infos(PEM_X509_INFO_read_bio(bio.get(), nullptr, nullptr, nullptr));
    X509_STORE* store = SSL_CTX_get_cert_store(client.get());
    int added = 0;
    for (int i = 0; infos && i < sk_X509_INFO_num(infos.get()); ++i) {
      X509_INFO* info = sk_X509_INFO_value(infos.get(), i);
      if (info->x509 && X509_STORE_add_cert(store, info->x509) == 1) ++added;
    }
    ERR_clear_error();
    if (added == 0) return TlsFileError(TlsError::kBadPem, files.ca_bundle.path, "no certificate");
  }
  static constexpr unsigned char kAlpn[] = "\x08http/1.1";
  if (SSL_CTX_set_alpn_protos(client.get(), kAlpn, sizeof kAlpn - 1) != 0)  // 0 is success
    return TlsFileError(make_error_code(TlsError::kContextFailed));
  impl->client = std::make_unique<ssl::context>(client.release());
  return std::shared_ptr<const TlsInterception>(new TlsInterception(std::move(impl)));
}

Result<std::shared_ptr<ssl::context>> TlsInterception::serverContext(
    std::string_view server_name) const {
  Impl& impl = *impl_;
  if (impl.fixed) return impl.fixed;
  PC_TRY(name, leafName(server_name));
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(impl.mutex);
    auto it = impl.leaves.find(name);
    if (it != impl.leaves.end() && now - it->second.minted < kLeafRefresh) {
      impl.recent.splice(impl.recent.begin(), impl.recent, it->second.order);
      return it->second.context;
    }
  }
  // Minted outside the lock: a signature must not stall the other I/O threads' handshakes.
  // Two threads minting the same name both succeed; the later insert replaces the earlier.
  PC_TRY(context, impl.mint(name));
  std::lock_guard lock(impl.mutex);
  auto [it, inserted] = impl.leaves.try_emplace(name);
  if (inserted) {
    impl.recent.push_front(name);
    it->second.order = impl.recent.begin();
  } else {
    impl.recent.splice(impl.recent.begin(), impl.recent, it->second.order);
  }
  it->second.context = context;
  it->second.minted = now;
  if (impl.leaves.size() > kLeafCacheSize) {
    impl.leaves.erase(impl.recent.back());
    impl.recent.pop_back();
  }
  return context;
}

ssl::context& TlsInterception::clientContext() const { return *impl_->client; }

bool TlsInterception::mintsLeaves() const { return impl_->ca != nullptr; }

size_t TlsInterception::cachedLeaves() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->leaves.size();
}

uint64_t TlsInterception::mintedLeaves() const {
  return impl_->minted.load(std::memory_order_relaxed);
}

std::error_code prepareOriginHandshake(SSL* ssl, std::string_view server_name) {
  if (!server_name.empty() && server_name.back() == '.') server_name.remove_suffix(1);
  if (server_name.empty()) return make_error_code(TlsError::kNoServerName);
  const std::string name(server_name);
  if (name.find('\0') != std::string::npos) return make_error_code(TlsError::kInvalidServerName);
  // SNI (RFC 6066 3) and the name the origin's certificate must carry (RFC 6125 6.4), no
  // partial-label wildcards such as "w*.example.test".
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (SSL_set_tlsext_host_name(ssl, name.c_str()) != 1 || SSL_set1_host(ssl, name.c_str()) != 1) {
    ERR_clear_error();
    return make_error_code(TlsError::kInvalidServerName);
  }
  if (OriginSessions* sessions = OriginSessions::of(SSL_get_SSL_CTX(ssl))) sessions->offer(ssl, name);
  return {};
}

}  // namespace portcullis::proxy
