// `portcullis run`: the process lifecycle (DESIGN.md "Concurrency"; SPEC.md "Command line").
// Start: load config and policy (exit 1, nothing installed), allocate listener ports (adopting
// a crashed run's ports when free), open the proxy listeners (a port found taken at bind time is
// drawn again), install the datapath (exit 2, rolled back, listeners closed); then reconcile
// every interval, reload the policy on SIGHUP, and on SIGINT/SIGTERM shut the proxies down with
// a bounded grace before tearing down the datapath (exit 0).
//
// The lifecycle (signals, reconcile timer, reloads) runs on io_, on the main thread; the proxies'
// sessions run on pool_'s threads and only share policy_store_ with it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "datapath/datapath.h"
#include "datapath/iptables.h"
#include "datapath/nft_rule_dump.h"
#include "datapath/process_command_runner.h"
#include "datapath/reconciler.h"
#include "datapath/ruleset_generation.h"
#include "policy/model.h"
#include "app/listener_set.h"
#include "app/node_address_follower.h"
#include "proxy/admin_server.h"
#include "app/policy_watcher.h"
#include "proxy/access_log.h"
#include "proxy/io_pool.h"
#include "proxy/policy_store.h"
#include "proxy/tls_interception_store.h"

namespace portcullis::app {

class Daemon {
 public:
  struct Options {
    std::string config_path;
    bool dry_run = false;
  };

  explicit Daemon(Options options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs until SIGINT/SIGTERM (or, with dry_run, until the plan is printed); the exit code.
  int run();

 private:
  bool load();
  int printPlan(const datapath::DatapathPlan& plan);
  bool openKernel();
  std::map<std::string, uint16_t> leftoverPorts();
  bool allocatePorts(const policy::Policy& policy, const std::map<std::string, uint16_t>& preferred);
  bool openListeners(const policy::Policy& policy);
  void waitForSignal();
  void scheduleReconcile();
  void reload(const char* why = "SIGHUP");
  // The files of daemon_files.cc: the access log (SIGUSR1 reopens it) and policy-watch.
  bool startAccessLog();
  void startPolicyWatch();
  void shutdown(int signal_number);
  void teardown();
  // The admin endpoint (daemon_admin.cc): /metrics, /status, /healthz on proxy.admin.
  void startAdmin();
  std::string renderMetrics() const;
  std::string renderStatus() const;
  bool healthy() const;

  Options options_;
  policy::Config config_;
  policy::Policy policy_;
  proxy::PolicyStore policy_store_;
  // terminatingTLS rules' certificates and keys, re-read on every reload; stored right before
  // policy_store_ so a TLS session's set and policy always go together.
  std::shared_ptr<proxy::TlsInterceptionStore> tls_store_ =
      std::make_shared<proxy::TlsInterceptionStore>();
  std::map<std::string, uint16_t> ports_;  // listener name -> port, kept across reloads
  // Declared after policy_store_ and before the listeners: the pool's threads stop (teardown,
  // or its destructor) before either is destroyed.
  proxy::IoPool pool_;
  std::optional<ListenerSet> listeners_;
  std::shared_ptr<proxy::AccessLog> access_log_;  // null: proxy.access-log off
  // The node's addresses (loop check, preserve-source), followed while the proxies run.
  std::shared_ptr<proxy::NodeAddresses> node_addresses_ = std::make_shared<proxy::NodeAddresses>();

  datapath::ProcessCommandRunner runner_;
  std::optional<datapath::Iptables> iptables_;
  std::unique_ptr<datapath::RuleTable> rules_;
  std::unique_ptr<datapath::RouteTable> routes_;
  datapath::NftRulesetGeneration generation_;
  datapath::NetlinkNftRuleDump rule_dump_;
  std::optional<datapath::Datapath> datapath_;
  std::optional<datapath::Reconciler> reconciler_;

  boost::asio::io_context io_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer reconcile_timer_;
  boost::asio::steady_timer shutdown_timer_;  // bounds the proxies' grace at shutdown
  bool torn_down_ = false;
  bool sweep_refusal_logged_ = false;
  // For /metrics and /status.
  std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
  uint64_t reloads_ok_ = 0;
  uint64_t reloads_failed_ = 0;
  uint64_t reconcile_failures_ = 0;
  std::optional<std::chrono::system_clock::time_point> last_check_;
  std::optional<std::chrono::system_clock::time_point> last_repair_;
  std::unique_ptr<proxy::AdminServer> admin_;  // on io_; stopped at teardown
  // On io_ too: declared after it, so they go before its services do.
  std::unique_ptr<PolicyWatcher> watcher_;  // policy-watch: true
  std::unique_ptr<NodeAddressFollower> address_follower_;
  int exit_code_ = 0;
};

}  // namespace portcullis::app
