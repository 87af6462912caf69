#include "providers/curl_api.hpp"

#include "util/error.hpp"

#include <dlfcn.h>
#include <string>

namespace promptops::providers {
namespace {

CurlApi load() {
  // The OpenSSL build first (Debian's libcurl4), then the GnuTLS one: the API is the same.
  void* lib = nullptr;
  std::string tried;
  for (const char* name : {"libcurl.so.4", "libcurl-gnutls.so.4"}) {
    lib = ::dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (lib != nullptr) {
      break;
    }
    const char* why = ::dlerror();
    tried += std::string(tried.empty() ? "" : "; ") + (why != nullptr ? why : name);
  }
  if (lib == nullptr) {
    throw RunError("cannot load libcurl, which provider calls need (install libcurl4): " + tried);
  }
  CurlApi api{};
  auto get = [lib](auto& field, const char* symbol) {
    void* address = ::dlsym(lib, symbol);
    if (address == nullptr) {
      throw RunError(std::string("libcurl lacks ") + symbol +
                     " (promptops needs libcurl 7.84 or later)");
    }
    field = reinterpret_cast<std::remove_reference_t<decltype(field)>>(address);
  };
  get(api.global_init, "curl_global_init");
  get(api.easy_init, "curl_easy_init");
  get(api.easy_setopt, "curl_easy_setopt");
  get(api.easy_getinfo, "curl_easy_getinfo");
  get(api.easy_header, "curl_easy_header");
  get(api.easy_strerror, "curl_easy_strerror");
  get(api.easy_cleanup, "curl_easy_cleanup");
  get(api.easy_reset, "curl_easy_reset");
  get(api.multi_init, "curl_multi_init");
  get(api.multi_setopt, "curl_multi_setopt");
  get(api.multi_add_handle, "curl_multi_add_handle");
  get(api.multi_remove_handle, "curl_multi_remove_handle");
  get(api.multi_perform, "curl_multi_perform");
  get(api.multi_poll, "curl_multi_poll");
  get(api.multi_wakeup, "curl_multi_wakeup");
  get(api.multi_info_read, "curl_multi_info_read");
  get(api.multi_cleanup, "curl_multi_cleanup");
  get(api.slist_append, "curl_slist_append");
  get(api.slist_free_all, "curl_slist_free_all");
  if (api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    throw RunError("libcurl failed to initialise");
  }
  return api; // the library stays loaded for the life of the process
}

} // namespace

const CurlApi& curl() {
  static const CurlApi api = load();
  return api;
}

} // namespace promptops::providers
