package audio

import "strings"

// The one rule for "is this stream a call application's, and which":
// internal/callwatch uses it to notice a call, and recording only the call
// (callonly_linux.go) uses it to find the call's playback streams.

// callApps are the known call applications: a match on a stream's
// application name or process binary (lower case, substring) gives the
// human name.
var callApps = []struct {
	match   []string
	name    string
	browser bool
}{
	{[]string{"zoom"}, "Zoom", false},
	{[]string{"teams", "ms-teams"}, "Microsoft Teams", false},
	{[]string{"webex", "ciscospark", "cisco spark"}, "Webex", false},
	{[]string{"slack"}, "Slack", false},
	{[]string{"skype"}, "Skype", false},
	{[]string{"discord"}, "Discord", false},
	{[]string{"signal"}, "Signal", false},
	{[]string{"jitsi"}, "Jitsi Meet", false},
	// A browser takes the microphone only for a call (Meet, Teams or Zoom
	// on the web, …): "a browser on a call".
	{[]string{"firefox"}, "Firefox", true},
	{[]string{"chrome", "chromium"}, "Chrome", true},
	{[]string{"msedge", "microsoft-edge"}, "Microsoft Edge", true},
	{[]string{"brave"}, "Brave", true},
	{[]string{"opera"}, "Opera", true},
	{[]string{"vivaldi"}, "Vivaldi", true},
}

// CallAppName says whether a stream with this application name and process
// binary (application.name, application.process.binary) belongs to a known
// call application, and gives its human name ("Zoom"). The binary is
// asked first: it is harder for a program to get wrong.
func CallAppName(app, binary string) (name string, ok bool) {
	for _, field := range []string{binary, app} {
		f := strings.ToLower(field)
		if f == "" {
			continue
		}
		for _, k := range callApps {
			for _, m := range k.match {
				if strings.Contains(f, m) {
					return k.name, true
				}
			}
		}
	}
	return "", false
}

// isBrowser reports whether a call application name (as CallAppName
// gives) is a web browser, which also plays music and other tabs.
func isBrowser(name string) bool {
	for _, k := range callApps {
		if k.name == name {
			return k.browser
		}
	}
	return false
}
