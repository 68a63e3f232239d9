// Desktop notifications on Linux: org.freedesktop.Notifications.Notify on the session bus through sd-bus
// (libsystemd, already linked for logind). DBUS_SESSION_BUS_ADDRESS is honoured by sd_bus_open_user.
#include <systemd/sd-bus.h>

#include <cstring>

#include "workmonitor/platform/notifications.h"

namespace wm::platform {

namespace {
constexpr uint64_t kCallTimeoutUs = 3'000'000;  // a hung notification service must not hold the caller
}

Result<void> showNotification(const std::string& app_name, const std::string& summary, const std::string& body) {
  sd_bus* bus = nullptr;
  if (int r = sd_bus_open_user(&bus); r < 0)
    return fail(Errc::kUnavailable, std::string("no session bus: ") + std::strerror(-r));
  sd_bus_message* msg = nullptr;
  sd_bus_message* reply = nullptr;
  sd_bus_error err = SD_BUS_ERROR_NULL;
  int r = sd_bus_message_new_method_call(bus, &msg, "org.freedesktop.Notifications", "/org/freedesktop/Notifications",
                                         "org.freedesktop.Notifications", "Notify");
  // Notify(app_name s, replaces_id u, app_icon s, summary s, body s, actions as, hints a{sv}, expire_timeout i)
  if (r >= 0) r = sd_bus_message_append(msg, "susss", app_name.c_str(), 0u, "", summary.c_str(), body.c_str());
  if (r >= 0) r = sd_bus_message_append_strv(msg, nullptr);
  if (r >= 0) r = sd_bus_message_append(msg, "a{sv}", 1, "urgency", "y", static_cast<uint8_t>(1));
  if (r >= 0) r = sd_bus_message_append(msg, "i", 0);  // 0: stays until the person closes it
  if (r >= 0) r = sd_bus_call(bus, msg, kCallTimeoutUs, &err, &reply);
  Result<void> out;
  if (r < 0)
    out = fail(Errc::kUnavailable, std::string("the notification service did not take it: ") +
                                       (err.message != nullptr ? err.message : std::strerror(-r)));
  sd_bus_error_free(&err);
  sd_bus_message_unref(reply);
  sd_bus_message_unref(msg);
  sd_bus_flush_close_unref(bus);
  return out;
}

}  // namespace wm::platform
