// The sample plan of the golden payload files: every kind of selector, both families.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include "datapath/datapath_plan.h"

namespace portcullis::datapath::testing {

inline Cidr cidr(const char* text) { return *Cidr::parse(text); }

inline DatapathPlan samplePlan() {
  DatapathPlan plan;
  plan.listeners = {{"portcullis-http-egress", 39799, true, false},
                    {"portcullis-http-ingress", 10080, true, false},
                    {"portcullis-dns-egress", 15503, true, true}};
  Classification web;
  web.rule = "web-egress";
  web.interfaces = {"veth+"};
  web.sources = {cidr("198.18.1.0/24"), cidr("2001:db8:1::/64")};
  web.destinations = {cidr("198.18.2.0/24"), cidr("2001:db8:2::/64")};
  web.port = 80;
  web.listener = "portcullis-http-egress";
  Classification dns_tcp;
  dns_tcp.rule = "dns-egress";
  dns_tcp.sources = {cidr("198.18.1.0/24")};
  dns_tcp.port = 53;
  dns_tcp.listener = "portcullis-dns-egress";
  Classification dns_udp = dns_tcp;
  dns_udp.protocol = IpProtocol::kUdp;
  Classification local;
  local.rule = "local-app";
  local.port = 8080;
  local.uids = {1000};
  local.cgroups = {"system.slice/app.service"};
  local.listener = "portcullis-http-egress";
  Classification ingress;
  ingress.rule = "web-ingress";
  ingress.direction = TrafficDirection::kIngress;
  ingress.interfaces = {"eth0"};
  ingress.destinations = {cidr("198.18.3.10/32")};
  ingress.port = 8443;
  ingress.listener = "portcullis-http-ingress";
  plan.classifications = {web, dns_tcp, dns_udp, local, ingress};
  return plan;
}

inline std::string readTestData(const std::string& name) {
  std::ifstream in(std::string(PORTCULLIS_TEST_DATA) + "/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// PORTCULLIS_UPDATE_GOLDEN=1 rewrites a golden file instead of comparing (review the diff!).
inline std::string golden(const std::string& name, const std::string& actual) {
  if (std::getenv("PORTCULLIS_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(std::string(PORTCULLIS_TEST_DATA) + "/" + name) << actual;
  }
  return readTestData(name);
}

}  // namespace portcullis::datapath::testing
