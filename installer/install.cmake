# What `cmake --install` puts where: the layout the Linux packages ship (installer/deb). Each file goes in the
# component of the package that ships it, so one build installs the three packages' trees.
include(GNUInstallDirs)

set(WM_INSTALLED_MIGRATIONS_DIR ${CMAKE_INSTALL_FULL_DATADIR}/workmonitor-server/migrations)
set(linux ${CMAKE_CURRENT_LIST_DIR}/linux)

# workmonitor-agent: the daemon and CLI, its systemd user unit (not enabled: service mode is the admin's
# choice, `systemctl --global enable workmonitor-agent`), an example policy.
install(TARGETS workmonitor-agent RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT agent)
install(FILES ${linux}/workmonitor-agent.service DESTINATION ${CMAKE_INSTALL_PREFIX}/lib/systemd/user COMPONENT agent)
install(FILES ${linux}/policy.json.example DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/workmonitor-agent/examples
        COMPONENT agent)

# The browser extension's side (issue 16): the native-messaging host, outside PATH (browsers start it); its
# manifests for Debian's browsers (Chromium, Firefox ESR), written by the agent's own `browser-host install`
# under the staging root, so the package and the command never differ; the extension's source for a company
# to pack and publish; example managed policies that force-install it. Chrome, Edge and Brave: the admin runs
# `workmonitor-agent browser-host install --system` (README.Debian).
set(WM_INSTALLED_NMHOST ${CMAKE_INSTALL_PREFIX}/lib/workmonitor/workmonitor-nmhost)
install(TARGETS workmonitor-nmhost RUNTIME DESTINATION ${CMAKE_INSTALL_PREFIX}/lib/workmonitor COMPONENT agent)
install(CODE "execute_process(COMMAND \"$<TARGET_FILE:workmonitor-agent>\" browser-host install --system
                --browser chromium --browser firefox --root \"\$ENV{DESTDIR}/\" --host-path \"${WM_INSTALLED_NMHOST}\"
              COMMAND_ERROR_IS_FATAL ANY)"
        COMPONENT agent)
install(FILES ${PROJECT_SOURCE_DIR}/extension/manifest.json
        DESTINATION ${CMAKE_INSTALL_DATADIR}/workmonitor/browser-extension COMPONENT agent)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/extension/src/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/workmonitor/browser-extension/src COMPONENT agent)
install(FILES ${linux}/browser-policies/chromium-workmonitor.json.example
              ${linux}/browser-policies/firefox-policies.json.example
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/workmonitor-agent/examples COMPONENT agent)

if(TARGET workmonitor-server)
  target_compile_definitions(workmonitor-server PRIVATE WM_INSTALLED_MIGRATIONS_DIR="${WM_INSTALLED_MIGRATIONS_DIR}")
  install(TARGETS workmonitor-server RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT server)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/migrations/ DESTINATION ${WM_INSTALLED_MIGRATIONS_DIR} COMPONENT server
          FILES_MATCHING PATTERN "*.sql")
  install(FILES ${linux}/workmonitor-server.service DESTINATION /lib/systemd/system COMPONENT server)
  install(FILES ${linux}/server.env.example DESTINATION ${CMAKE_INSTALL_DATADIR}/workmonitor-server COMPONENT server)
endif()

if(TARGET workmonitor-tray)
  install(TARGETS workmonitor-tray RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tray)
  install(FILES ${linux}/workmonitor-tray.desktop DESTINATION ${CMAKE_INSTALL_DATADIR}/applications COMPONENT tray)
  # Every user's session starts the tray at log-in (a person's own ~/.config/autostart entry overrides it).
  install(FILES ${linux}/workmonitor-tray-autostart.desktop DESTINATION /etc/xdg/autostart
          RENAME workmonitor-tray.desktop COMPONENT tray)
  install(FILES ${linux}/icons/workmonitor.svg DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor/scalable/apps
          COMPONENT tray)
  # PNG sizes are rendered from the SVG at package time (debian/rules), not kept as binaries in the tree.
  foreach(size 16 22 24 32 48 64 128 256)
    install(FILES ${CMAKE_BINARY_DIR}/icons/${size}/workmonitor.png
            DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor/${size}x${size}/apps COMPONENT tray OPTIONAL)
  endforeach()
endif()

if(TARGET workmonitor-tray)
  find_program(WM_RSVG_CONVERT rsvg-convert)
  if(WM_RSVG_CONVERT)
    set(pngs)
    foreach(size 16 22 24 32 48 64 128 256)
      set(png ${CMAKE_BINARY_DIR}/icons/${size}/workmonitor.png)
      add_custom_command(OUTPUT ${png} COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/icons/${size}
                         COMMAND ${WM_RSVG_CONVERT} -w ${size} -h ${size} -o ${png} ${linux}/icons/workmonitor.svg
                         DEPENDS ${linux}/icons/workmonitor.svg VERBATIM)
      list(APPEND pngs ${png})
    endforeach()
    add_custom_target(wm_tray_icons ALL DEPENDS ${pngs})
  endif()
endif()
