#include "proxy/tls_interception.h"

#include <gtest/gtest.h>

#include <thread>

#include "policy/compiled_policy.h"
#include "policy/parser.h"
#include "tests/proxy/tls_certificates.h"

namespace portcullis::proxy {
namespace {

using namespace tls_testing;  // NOLINT: the test PKI builders

policy::TerminatingTls fixedFiles(const std::string& certificate, const std::string& key) {
  policy::TerminatingTls t;
  t.certificate = certificate;
  t.private_key = key;
  return t;
}

policy::TerminatingTls mintingFiles(const std::string& ca_certificate, const std::string& ca_key) {
  policy::TerminatingTls t;
  t.ca_certificate = ca_certificate;
  t.ca_key = ca_key;
  return t;
}

// Files of one test: a CA (RSA) and a server certificate it signed (EC), keys written 0600.
class TlsInterceptionTest : public ::testing::Test {
 protected:
  TlsInterceptionTest() {
    ca_crt_ = dir_.write("ca.crt", pem(pki_.ca.get()));
    ca_key_ = dir_.write("ca.key", pem(pki_.ca_key.get()), 0600);
    server_crt_ = dir_.write("server.crt", pem(server_.get()));
    server_key_ = dir_.write("server.key", pem(server_key_pair_.get()), 0600);
  }

  policy::TerminatingTls minting() const {
    return mintingFiles(ca_crt_, ca_key_);
  }
  policy::TerminatingTls fixed() const {
    return fixedFiles(server_crt_, server_key_);
  }
  std::shared_ptr<const TlsInterception> load(const policy::TerminatingTls& t,
                                              const policy::OriginatingTls* o = nullptr) {
    auto loaded = TlsInterception::load(t, o);
    EXPECT_TRUE(loaded) << (loaded ? "" : loaded.error().message());
    return loaded ? loaded.value() : nullptr;
  }
  // Loading fails with `code`; returns the message.
  std::string refused(const policy::TerminatingTls& t, TlsError code,
                      const policy::OriginatingTls* o = nullptr) {
    auto loaded = TlsInterception::load(t, o);
    EXPECT_FALSE(loaded);
    if (loaded) return {};
    EXPECT_EQ(loaded.error().code, make_error_code(code)) << loaded.error().message();
    return loaded.error().message();
  }

  TempDir dir_;
  Pki pki_;
  Key server_key_pair_ = ecKey();
  Cert server_ = pki_.leaf("fixed.test", server_key_pair_.get());
  std::string ca_crt_, ca_key_, server_crt_, server_key_;
};

// The leaf a server context presents.
X509* leafOf(boost::asio::ssl::context& ctx) { return SSL_CTX_get0_certificate(ctx.native_handle()); }

std::vector<std::string> dnsNames(X509* cert) {
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_DNS)
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName)),
                       ASN1_STRING_length(n->d.dNSName));
  }
  GENERAL_NAMES_free(names);
  return out;
}

// What a client trusting only `ca` concludes about `cert` for `host`.
int verifyAgainst(X509* ca, X509* cert, const std::string& host) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, cert, nullptr);
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
  X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), host.c_str(), 0);
  X509_verify_cert(ctx);
  const int result = X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return result;
}

auto withSni(const std::string& name, const std::string& alpn = "\x08http/1.1") {
  return [name, alpn](SSL* ssl) {
    SSL_set_tlsext_host_name(ssl, name.c_str());
    SSL_set1_host(ssl, name.c_str());
    if (!alpn.empty())
      SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(alpn.data()),
                          static_cast<unsigned>(alpn.size()));
  };
}

TEST_F(TlsInterceptionTest, FixedCertificateIsServedForEveryName) {
  auto t = load(fixed());
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->mintsLeaves());
  auto a = t->serverContext("fixed.test");
  auto b = t->serverContext("other.test");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a.value(), b.value());
  Ctx client = clientTrusting(pki_.ca.get());
  Handshake h = handshake(a.value()->native_handle(), client.get(), withSni("fixed.test"));
  EXPECT_TRUE(h.client_ok && h.server_ok);
  EXPECT_EQ(h.verify_result, X509_V_OK);
  EXPECT_EQ(h.alpn, "http/1.1");
}

TEST_F(TlsInterceptionTest, KeyFilesWiderThan0600AreRefused) {
  for (mode_t mode : {0644, 0640, 0604, 0700, 0660}) {
    SCOPED_TRACE(mode);
    server_key_ = dir_.write("server.key", pem(server_key_pair_.get()), mode);
    const std::string why = refused(fixed(), TlsError::kKeyTooOpen);
    EXPECT_NE(why.find(server_key_), std::string::npos) << why;
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
    EXPECT_NE(why.find(octal), std::string::npos) << why;
  }
  ca_key_ = dir_.write("ca.key", pem(pki_.ca_key.get()), 0644);
  EXPECT_NE(refused(minting(), TlsError::kKeyTooOpen).find(ca_key_), std::string::npos);
  // Narrower than 0600 is fine; a certificate may be world-readable.
  server_key_ = dir_.write("server.key", pem(server_key_pair_.get()), 0400);
  EXPECT_TRUE(load(fixed()));
}

TEST_F(TlsInterceptionTest, CertificateMustMatchItsKey) {
  Key other = ecKey();
  server_key_ = dir_.write("server.key", pem(other.get()), 0600);
  const std::string why = refused(fixed(), TlsError::kKeyMismatch);
  EXPECT_NE(why.find(server_crt_), std::string::npos) << why;
  EXPECT_NE(why.find(server_key_), std::string::npos) << why;
  ca_key_ = dir_.write("ca.key", pem(other.get()), 0600);
  refused(minting(), TlsError::kKeyMismatch);
}

TEST_F(TlsInterceptionTest, CaCertificateMustBeACa) {
  // A leaf with its own key passes the key check but cannot sign leaves.
  ca_crt_ = dir_.write("ca.crt", pem(server_.get()));
  ca_key_ = dir_.write("ca.key", pem(server_key_pair_.get()), 0600);
  EXPECT_NE(refused(minting(), TlsError::kNotCa).find(ca_crt_), std::string::npos);
}

TEST_F(TlsInterceptionTest, BrokenFilesAreNamed) {
  EXPECT_NE(refused(fixedFiles(dir_.path() + "/missing.crt", server_key_),
                    TlsError::kUnreadable)
                .find("missing.crt: cannot read the file: No such file or directory"),
            std::string::npos);
  const std::string garbage = dir_.write("garbage.crt", "not a certificate\n");
  EXPECT_NE(refused(fixedFiles(garbage, server_key_), TlsError::kBadPem)
                .find(garbage),
            std::string::npos);
  server_key_ = dir_.write("server.key", pem(server_key_pair_.get(), "secret"), 0600);
  refused(fixed(), TlsError::kEncryptedKey);
  CertSpec old;
  old.common_name = "old.test";
  old.not_before = -7200;
  old.not_after = -3600;
  Cert expired = makeCert(old, server_key_pair_.get(), pki_.ca.get(), pki_.ca_key.get());
  server_crt_ = dir_.write("server.crt", pem(expired.get()));
  server_key_ = dir_.write("server.key", pem(server_key_pair_.get()), 0600);
  refused(fixed(), TlsError::kExpired);
  const policy::OriginatingTls empty_bundle{.ca_bundle = dir_.write("empty.pem", "")};
  refused(minting(), TlsError::kBadPem, &empty_bundle);
}

TEST_F(TlsInterceptionTest, MintedLeafVerifiesAgainstTheCaWithTheSniAsSubjectAltName) {
  auto t = load(minting());
  ASSERT_TRUE(t && t->mintsLeaves());
  auto ctx = t->serverContext("API.Example.Test.");
  ASSERT_TRUE(ctx) << ctx.error().message();
  X509* leaf = leafOf(*ctx.value());
  ASSERT_NE(leaf, nullptr);
  EXPECT_EQ(dnsNames(leaf), std::vector<std::string>{"api.example.test"});
  EXPECT_EQ(verifyAgainst(pki_.ca.get(), leaf, "api.example.test"), X509_V_OK);
  EXPECT_EQ(verifyAgainst(pki_.ca.get(), leaf, "other.example.test"), X509_V_ERR_HOSTNAME_MISMATCH);
  EXPECT_EQ(X509_check_ca(leaf), 0);  // a leaf cannot sign
  // Short validity: at most kLeafValidity ahead.
  int days = 0, seconds = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(leaf)), 1);
  const long ahead = days * 86400L + seconds;
  EXPECT_GT(ahead, 23 * 3600);
  EXPECT_LE(ahead, 24 * 3600);
  // Another CA does not vouch for it.
  Pki other("other CA");
  EXPECT_NE(verifyAgainst(other.ca.get(), leaf, "api.example.test"), X509_V_OK);
}

TEST_F(TlsInterceptionTest, MintedLeavesAreCachedPerName) {
  auto t = load(minting());
  ASSERT_TRUE(t);
  auto a = t->serverContext("a.test");
  auto a_again = t->serverContext("A.TEST");
  auto b = t->serverContext("b.test");
  ASSERT_TRUE(a && a_again && b);
  EXPECT_EQ(a.value(), a_again.value());
  EXPECT_NE(a.value(), b.value());
  EXPECT_EQ(t->mintedLeaves(), 2u);
  EXPECT_EQ(t->cachedLeaves(), 2u);
  // Nothing a client sends may add to the certificate, and no name means no leaf.
  for (const char* bad : {"", ".", "a,DNS:evil.test", "a b.test", "a..test", "*.test", "a\n.test"}) {
    auto r = t->serverContext(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().category(), tlsCategory());
  }
  EXPECT_EQ(t->mintedLeaves(), 2u);
}

TEST_F(TlsInterceptionTest, CacheIsBoundedAndThreadSafe) {
  auto t = load(minting());
  ASSERT_TRUE(t);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (size_t i = 0; i < kLeafCacheSize / 2 + 50; ++i) {
        // Half the names are shared between threads, half are this thread's own.
        const std::string name = (i % 2 ? "t" + std::to_string(k) + "-" : "s-") +
                                 std::to_string(i) + ".test";
        if (!t->serverContext(name)) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(t->cachedLeaves(), kLeafCacheSize);
  EXPECT_GT(t->mintedLeaves(), kLeafCacheSize);
}

TEST_F(TlsInterceptionTest, FullHandshakeWithAClientTrustingTheCa) {
  auto t = load(minting());
  ASSERT_TRUE(t);
  auto ctx = t->serverContext("shop.example.test");
  ASSERT_TRUE(ctx);
  Ctx client = clientTrusting(pki_.ca.get());
  Handshake h = handshake(ctx.value()->native_handle(), client.get(),
                          withSni("shop.example.test", std::string("\x02h2\x08http/1.1", 12)));
  EXPECT_TRUE(h.client_ok && h.server_ok);
  EXPECT_EQ(h.verify_result, X509_V_OK);
  EXPECT_EQ(h.alpn, "http/1.1");  // never h2 until HTTP/2 exists
  EXPECT_EQ(h.version, TLS1_3_VERSION);

  // A client that offers only h2 gets no ALPN rather than an alert.
  Handshake h2_only = handshake(ctx.value()->native_handle(), client.get(),
                                withSni("shop.example.test", std::string("\x02h2", 3)));
  EXPECT_TRUE(h2_only.client_ok);
  EXPECT_EQ(h2_only.alpn, "");

  Ctx tls12 = clientTrusting(pki_.ca.get(), TLS1_2_VERSION);
  EXPECT_TRUE(handshake(ctx.value()->native_handle(), tls12.get(), withSni("shop.example.test"))
                  .client_ok);
  Ctx tls11 = clientTrusting(pki_.ca.get(), TLS1_1_VERSION);
  SSL_CTX_set_min_proto_version(tls11.get(), TLS1_VERSION);
  SSL_CTX_set_security_level(tls11.get(), 0);
  EXPECT_FALSE(handshake(ctx.value()->native_handle(), tls11.get(), withSni("shop.example.test"))
                   .client_ok);

  Ctx untrusting = clientTrusting(nullptr);
  Handshake refused = handshake(ctx.value()->native_handle(), untrusting.get(),
                                withSni("shop.example.test"));
  EXPECT_FALSE(refused.client_ok);
}

// The origin side: an origin presenting a leaf for origin.test signed by the test CA.
class OriginTest : public TlsInterceptionTest {
 protected:
  Handshake toOrigin(const TlsInterception& t, const std::string& name, X509* origin_cert,
                     EVP_PKEY* origin_key) {
    // The origin answers with http/1.1 when offered: the same selection as the server contexts.
    Ctx origin = serverWith(origin_cert, origin_key);
    SSL_CTX_set_alpn_select_cb(
        origin.get(),
        [](SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
           unsigned int in_length, void*) {
          return SSL_select_next_proto(const_cast<unsigned char**>(out), out_length,
                                       reinterpret_cast<const unsigned char*>("\x08http/1.1"), 9,
                                       in, in_length) == OPENSSL_NPN_NEGOTIATED
                     ? SSL_TLSEXT_ERR_OK
                     : SSL_TLSEXT_ERR_NOACK;
        },
        nullptr);
    return handshake(origin.get(), t.clientContext().native_handle(), [&](SSL* ssl) {
      EXPECT_FALSE(prepareOriginHandshake(ssl, name));
    });
  }
  Key origin_key_ = ecKey();
  Cert origin_ = pki_.leaf("origin.test", origin_key_.get());
};

TEST_F(OriginTest, ClientContextVerifiesChainAndName) {
  const policy::OriginatingTls bundle{.ca_bundle = ca_crt_};
  auto t = load(minting(), &bundle);
  ASSERT_TRUE(t);
  Handshake good = toOrigin(*t, "origin.test", origin_.get(), origin_key_.get());
  EXPECT_TRUE(good.client_ok);
  EXPECT_EQ(good.verify_result, X509_V_OK);
  EXPECT_EQ(good.alpn, "http/1.1");  // the client context offered it
  EXPECT_EQ(dnsNames(good.peer.get()), std::vector<std::string>{"origin.test"});

  EXPECT_FALSE(good.resumed);

  Handshake wrong_name = toOrigin(*t, "elsewhere.test", origin_.get(), origin_key_.get());
  EXPECT_FALSE(wrong_name.client_ok);
  EXPECT_EQ(wrong_name.verify_result, X509_V_ERR_HOSTNAME_MISMATCH);

  Pki stranger("stranger CA");
  Cert untrusted = stranger.leaf("origin.test", origin_key_.get());
  Handshake bad_chain = toOrigin(*t, "origin.test", untrusted.get(), origin_key_.get());
  EXPECT_FALSE(bad_chain.client_ok);
  EXPECT_EQ(bad_chain.verify_result, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST_F(OriginTest, NextConnectionToTheSameNameResumes) {
  const policy::OriginatingTls bundle{.ca_bundle = ca_crt_};
  auto t = load(minting(), &bundle);
  ASSERT_TRUE(t);
  Ctx origin = serverWith(origin_.get(), origin_key_.get());
  auto connect = [&](const std::string& name) {
    return handshake(origin.get(), t->clientContext().native_handle(),
                     [&](SSL* ssl) { EXPECT_FALSE(prepareOriginHandshake(ssl, name)); });
  };
  Handshake first = connect("origin.test");
  ASSERT_TRUE(first.client_ok);
  EXPECT_FALSE(first.resumed);
  Handshake second = connect("origin.test");
  ASSERT_TRUE(second.client_ok);
  EXPECT_TRUE(second.resumed);
  EXPECT_EQ(second.verify_result, X509_V_OK);
  // A session is offered only to the name it was verified for.
  Handshake other_name = connect("elsewhere.test");
  EXPECT_FALSE(other_name.client_ok);
  EXPECT_FALSE(other_name.resumed);
}

TEST_F(OriginTest, SystemBundleDoesNotTrustTheTestCa) {
  auto t = load(minting());  // no originatingTLS: the system bundle
  ASSERT_TRUE(t);
  Handshake h = toOrigin(*t, "origin.test", origin_.get(), origin_key_.get());
  EXPECT_FALSE(h.client_ok);
  EXPECT_NE(h.verify_result, X509_V_OK);
}

TEST(PrepareOriginHandshake, NeedsAName) {
  Ctx ctx(SSL_CTX_new(TLS_client_method()));
  Ssl ssl(SSL_new(ctx.get()));
  EXPECT_EQ(prepareOriginHandshake(ssl.get(), ""), make_error_code(TlsError::kNoServerName));
  EXPECT_FALSE(prepareOriginHandshake(ssl.get(), "origin.test."));
  EXPECT_STREQ(SSL_get_servername(ssl.get(), TLSEXT_NAMETYPE_host_name), "origin.test");
}

// The set: rules by index, reuse across reloads.
class TlsInterceptionSetTest : public TlsInterceptionTest {
 protected:
  PolicyStore::Pointer compile(const std::string& ca_cert_path) {
    const std::string rule = "    selector: {ports: [{port: 443}]}\n"
                             "    terminatingTLS: {ca-certificate: " + ca_cert_path +
                             ", ca-key: " + ca_key_ + "}\n    http: []\n";
    auto parsed = policy::parsePolicy("rules:\n"
                                      "  - name: sni-only\n    direction: egress\n"
                                      "    selector: {ports: [{port: 8443}]}\n"
                                      "    tls: [{serverNames: [a.test]}]\n"
                                      "  - name: inspect-1\n    direction: egress\n" + rule +
                                      "  - name: inspect-2\n    direction: egress\n" + rule +
                                      "  - name: inspect-fixed\n    direction: egress\n"
                                      "    selector: {ports: [{port: 443}]}\n"
                                      "    terminatingTLS: {certificate: " + server_crt_ +
                                      ", privateKey: " + server_key_ + "}\n    http: []\n",
                                      "tls.yaml");
    for (const auto& e : parsed.errors) ADD_FAILURE() << e.toString();
    auto compiled = policy::CompiledPolicy::compile(*parsed.value);
    for (const auto& e : compiled.errors) ADD_FAILURE() << e.toString();
    return *compiled.value;
  }
};

TEST_F(TlsInterceptionSetTest, RulesNamingTheSameFilesShareOneInterception) {
  auto policy = compile(ca_crt_);
  auto set = TlsInterceptionSet::load(policy, nullptr);
  ASSERT_TRUE(set) << set.error().message();
  const TlsInterceptionSet& s = *set.value();
  EXPECT_EQ(s.policy(), policy);
  EXPECT_EQ(s.forRule(0), nullptr);
  ASSERT_NE(s.forRule(1), nullptr);
  EXPECT_EQ(s.forRule(1), s.forRule(2));
  ASSERT_NE(s.forRule(3), nullptr);
  EXPECT_NE(s.forRule(3), s.forRule(1));
  EXPECT_FALSE(s.forRule(3)->mintsLeaves());
  EXPECT_EQ(s.forRule(4), nullptr);
  EXPECT_EQ(s.size(), 2u);
}

TEST_F(TlsInterceptionSetTest, UnchangedFilesKeepTheirLeavesAcrossReloads) {
  auto first = TlsInterceptionSet::load(compile(ca_crt_), nullptr);
  ASSERT_TRUE(first);
  auto leaf = first.value()->forRule(1)->serverContext("kept.test");
  ASSERT_TRUE(leaf);

  // Same paths, same bytes: the same interception, its cache intact.
  auto second = TlsInterceptionSet::load(compile(ca_crt_), first.value().get());
  ASSERT_TRUE(second);
  EXPECT_EQ(second.value()->forRule(1), first.value()->forRule(1));
  EXPECT_EQ(second.value()->forRule(1)->serverContext("kept.test").value(), leaf.value());

  // A new CA in the same file: built again, its leaves signed by the new CA.
  Pki rotated("rotated CA");
  dir_.write("ca.crt", pem(rotated.ca.get()));
  dir_.write("ca.key", pem(rotated.ca_key.get()), 0600);
  auto third = TlsInterceptionSet::load(compile(ca_crt_), second.value().get());
  ASSERT_TRUE(third) << third.error().message();
  EXPECT_NE(third.value()->forRule(1), first.value()->forRule(1));
  EXPECT_EQ(third.value()->forRule(3), first.value()->forRule(3));  // its files did not change
  auto new_leaf = third.value()->forRule(1)->serverContext("kept.test");
  ASSERT_TRUE(new_leaf);
  EXPECT_EQ(verifyAgainst(rotated.ca.get(), leafOf(*new_leaf.value()), "kept.test"), X509_V_OK);
}

TEST_F(TlsInterceptionSetTest, ABadFileFailsTheWholeSetNamingRuleAndFile) {
  auto good = TlsInterceptionSet::load(compile(ca_crt_), nullptr);
  ASSERT_TRUE(good);
  ::chmod(ca_key_.c_str(), 0644);
  auto bad = TlsInterceptionSet::load(compile(ca_crt_), good.value().get());
  ASSERT_FALSE(bad);
  const std::string why = bad.error().message();
  EXPECT_EQ(why.rfind("tls.yaml:6:5: rule 'inspect-1' terminatingTLS: " + ca_key_ +
                          ": private key file mode is wider than 0600: mode 0644",
                      0),
            0u)
      << why;
}

// A reload is judged whole, but reported file by file: each bad file of each rule, with the rule's
// FILE:LINE:COLUMN, as policy errors are.
TEST_F(TlsInterceptionSetTest, EveryBadFileOfEveryRuleIsReported) {
  ::chmod(ca_key_.c_str(), 0644);
  ::chmod(server_key_.c_str(), 0640);
  const std::string missing = ca_crt_ + ".missing";
  auto bad = TlsInterceptionSet::load(compile(missing), nullptr);
  ASSERT_FALSE(bad);
  std::vector<std::string> lines;
  for (const TlsFileError& e : bad.error().errors) lines.push_back(e.message());
  ASSERT_EQ(lines.size(), 5u) << bad.error().message();
  const std::string unreadable = ": cannot read the file: No such file or directory";
  const std::string too_open = ": private key file mode is wider than 0600: mode 06";
  const std::string expected[] = {
      "tls.yaml:6:5: rule 'inspect-1' terminatingTLS: " + missing + unreadable,
      "tls.yaml:6:5: rule 'inspect-1' terminatingTLS: " + ca_key_ + too_open + "44",
      "tls.yaml:11:5: rule 'inspect-2' terminatingTLS: " + missing + unreadable,
      "tls.yaml:11:5: rule 'inspect-2' terminatingTLS: " + ca_key_ + too_open + "44",
      "tls.yaml:16:5: rule 'inspect-fixed' terminatingTLS: " + server_key_ + too_open + "40",
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].rfind(expected[i], 0), 0u) << lines[i];
  }
  EXPECT_EQ(bad.error().message().find('\n'), lines[0].size());  // one line each
}

}  // namespace
}  // namespace portcullis::proxy
