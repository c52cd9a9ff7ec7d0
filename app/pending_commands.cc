// Commands whose implementation has not landed yet: they say so and fail, never pretend.
#include <cstdio>

#include "app/commands.h"

namespace portcullis::app {
namespace {
int pending(const char* name) {
  std::fprintf(stderr, "portcullis: '%s' is not implemented in this build yet\n", name);
  return kExitRuntime;
}
}  // namespace

int statusCommand(Args) { return pending("status"); }

}  // namespace portcullis::app
