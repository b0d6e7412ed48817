# `cmake --install`: the three binaries, their man pages (generated from the
# --help texts at build time), the OCSF bindings library with headers and a
# pkg-config file, a systemd unit + sysusers snippet for the gateway, a
# logrotate snippet and shell completions.
# DESIGN: one file lists everything installed, so tests/e2e/test_install.py
# can check the same list; paths come from GNUInstallDirs (a distribution sets
# CMAKE_INSTALL_PREFIX=/usr and SYSCONFDIR=/etc as usual). The systemd unit
# and sysusers files go under the prefix (lib/systemd/system, lib/sysusers.d)
# unless OSH_SYSTEMD_UNITDIR / OSH_SYSUSERSDIR say otherwise; the gateway's
# state dir in the unit is OSH_STATE_DIR (/var/lib/openshell, systemd's
# StateDirectory).
include(GNUInstallDirs)
set(OSH_STATE_DIR "/var/lib/openshell" CACHE PATH "gateway data dir used by the systemd unit")
set(OSH_SYSTEMD_UNITDIR "${CMAKE_INSTALL_PREFIX}/lib/systemd/system" CACHE PATH "systemd units")
set(OSH_SYSUSERSDIR "${CMAKE_INSTALL_PREFIX}/lib/sysusers.d" CACHE PATH "sysusers.d snippets")
set(OSH_FULL_BINDIR "${CMAKE_INSTALL_FULL_BINDIR}")
set(OSH_OCSF_VERSION "1.7.0")

install(TARGETS openshell openshell-gateway openshell-sandbox
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Man pages from --help.
set(OSH_MAN_PAGES
    "openshell|1|command line client of the OpenShell gateway"
    "openshell-gateway|8|OpenShell gateway: sandboxes, policies, config and logs over gRPC"
    "openshell-sandbox|8|OpenShell sandbox supervisor: runs and watches one agent command")
set(OSH_MAN_OUT "")
foreach(entry ${OSH_MAN_PAGES})
  string(REPLACE "|" ";" parts "${entry}")
  list(GET parts 0 prog)
  list(GET parts 1 sect)
  list(GET parts 2 desc)
  set(out ${CMAKE_BINARY_DIR}/man/${prog}.${sect})
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND ${Python3_EXECUTABLE} ${OSH_ROOT}/packaging/gen-man.py $<TARGET_FILE:${prog}>
            ${sect} ${PROJECT_VERSION} ${out} ${desc}
    DEPENDS ${prog} ${OSH_ROOT}/packaging/gen-man.py
    COMMENT "man page ${prog}(${sect}) from --help" VERBATIM)
  list(APPEND OSH_MAN_OUT ${out})
  install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${sect})
endforeach()
add_custom_target(man ALL DEPENDS ${OSH_MAN_OUT})

# The OCSF bindings library: static archives, headers, pkg-config.
install(TARGETS osh_ocsf osh_common ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${OSH_ROOT}/src/ocsf/ocsf.h ${OSH_ROOT}/src/ocsf/ocsf_model.h
              ${OSH_ROOT}/src/ocsf/ocsf_jsonw.h ${OSH_ROOT}/generated/c/ocsf_gen.h
              ${OSH_ROOT}/src/common/osh_err.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/openshell)
configure_file(${OSH_ROOT}/packaging/openshell-ocsf.pc.in
               ${CMAKE_BINARY_DIR}/packaging/openshell-ocsf.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/packaging/openshell-ocsf.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# Service files.
configure_file(${OSH_ROOT}/packaging/openshell-gateway.service.in
               ${CMAKE_BINARY_DIR}/packaging/openshell-gateway.service @ONLY)
configure_file(${OSH_ROOT}/packaging/openshell.logrotate.in
               ${CMAKE_BINARY_DIR}/packaging/openshell @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/packaging/openshell-gateway.service
        DESTINATION ${OSH_SYSTEMD_UNITDIR})
install(FILES ${OSH_ROOT}/packaging/openshell.sysusers DESTINATION ${OSH_SYSUSERSDIR}
        RENAME openshell.conf)
install(FILES ${CMAKE_BINARY_DIR}/packaging/openshell
        DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/logrotate.d)

# Shell completions, generated at build time from the CLI's command table
# (src/cli/CMakeLists.txt, `openshell completions bash|zsh|fish`).
install(FILES ${OSH_COMPLETIONS_DIR}/openshell.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME openshell)
install(FILES ${OSH_COMPLETIONS_DIR}/_openshell
        DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
install(FILES ${OSH_COMPLETIONS_DIR}/openshell.fish
        DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d)
