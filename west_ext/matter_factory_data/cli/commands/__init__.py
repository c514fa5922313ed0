"""One module per command: ``add_<command>_arguments(parser)`` defines its options,
``run_<command>(args, ui)`` turns the parsed options into the typed request of the command body
(imported only when the command runs). The command table is :data:`..app.COMMANDS`."""
