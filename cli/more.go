package cli

// registerMoreCommands adds the commands that need the vault and the
// recording pipeline (record, list, play, export, delete, key, sync).
func registerMoreCommands() {}
