#pragma once

#include <curl/curl.h>

// libcurl, loaded when the first provider call is made rather than linked: linking it makes
// the dynamic loader map libcurl and its sixteen dependencies (TLS, HTTP/2, LDAP, SSH, ...)
// into every promptops process, which cost `render NAME@prod` about 2 ms of its 9 (measured).
// Only `promptops test` talks HTTP to providers.
namespace promptops::providers {

struct CurlApi {
  decltype(&curl_global_init) global_init;
  decltype(&curl_easy_init) easy_init;
  decltype(&curl_easy_setopt) easy_setopt;
  decltype(&curl_easy_getinfo) easy_getinfo;
  decltype(&curl_easy_header) easy_header;
  decltype(&curl_easy_strerror) easy_strerror;
  decltype(&curl_easy_cleanup) easy_cleanup;
  decltype(&curl_easy_reset) easy_reset;
  decltype(&curl_multi_init) multi_init;
  decltype(&curl_multi_setopt) multi_setopt;
  decltype(&curl_multi_add_handle) multi_add_handle;
  decltype(&curl_multi_remove_handle) multi_remove_handle;
  decltype(&curl_multi_perform) multi_perform;
  decltype(&curl_multi_poll) multi_poll;
  decltype(&curl_multi_wakeup) multi_wakeup;
  decltype(&curl_multi_info_read) multi_info_read;
  decltype(&curl_multi_cleanup) multi_cleanup;
  decltype(&curl_slist_append) slist_append;
  decltype(&curl_slist_free_all) slist_free_all;
};

// libcurl's functions, loaded (and curl_global_init called) once. Throws RunError naming the
// library when it cannot be loaded or lacks a function (a libcurl older than 7.84).
const CurlApi& curl();

} // namespace promptops::providers
