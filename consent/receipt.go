package consent

import (
	"fmt"
	"strings"
	"time"
)

// receiptText holds the receipt's words per language.
type receiptText struct {
	title, intro, controller, recording, record, notice, purposes, retention, months, jurisdiction,
	history, recorded, nothingRecorded, withdraw, withdrawDefault, rights, contact, minutes string
	events map[EventType]string
	method map[Method]string
}

var receiptTexts = map[string]receiptText{
	"en": {
		withdrawDefault: "Say \"stop recording\" or press Withdraw on the host's screen at any time; recording stops at once. Afterwards, write to the contact above.",
		title:           "Consent receipt", intro: "This receipt shows what you agreed to for a call recording and what happened.",
		controller: "Responsible organisation", recording: "Recording", record: "Consent record",
		notice: "Notice you were shown", purposes: "Purposes", retention: "Kept for", months: "months",
		jurisdiction: "Jurisdiction", history: "What happened (UTC)", recorded: "Recorded while you were present",
		nothingRecorded: "Nothing was recorded while you were present.",
		withdraw:        "How to withdraw", rights: "Your rights: access, correction, erasure, restriction, portability, objection, withdrawal, and a complaint to a supervisory authority.",
		contact: "Contact", minutes: "min",
		events: map[EventType]string{ParticipantAdded: "added to the call", ParticipantJoined: "joined", ParticipantLeft: "left",
			ConsentRequested: "notice shown", ConsentGiven: "consent given", ConsentRefused: "consent refused",
			ConsentWithdrawn: "consent withdrawn", AgeConfirmed: "minimum age confirmed"},
		method: map[Method]string{OnScreen: "on the host's screen", Remote: "on your own device", VerbalAttested: "spoken, attested by the host"},
	},
	"nl": {
		withdrawDefault: "Zeg \"stop de opname\" of druk op Intrekken op het scherm van de host; de opname stopt meteen. Schrijf daarna naar het contact hierboven.",
		title:           "Toestemmingsbewijs", intro: "Dit bewijs laat zien waarmee u instemde voor een gespreksopname en wat er gebeurde.",
		controller: "Verantwoordelijke organisatie", recording: "Opname", record: "Toestemmingsregister",
		notice: "Getoonde kennisgeving", purposes: "Doelen", retention: "Bewaard gedurende", months: "maanden",
		jurisdiction: "Rechtsgebied", history: "Wat er gebeurde (UTC)", recorded: "Opgenomen terwijl u aanwezig was",
		nothingRecorded: "Er is niets opgenomen terwijl u aanwezig was.",
		withdraw:        "Zo trekt u uw toestemming in", rights: "Uw rechten: inzage, rectificatie, wissing, beperking, overdraagbaarheid, bezwaar, intrekking, en een klacht bij een toezichthoudende autoriteit.",
		contact: "Contact", minutes: "min",
		events: map[EventType]string{ParticipantAdded: "aan het gesprek toegevoegd", ParticipantJoined: "weer deelgenomen", ParticipantLeft: "vertrokken",
			ConsentRequested: "kennisgeving getoond", ConsentGiven: "toestemming gegeven", ConsentRefused: "toestemming geweigerd",
			ConsentWithdrawn: "toestemming ingetrokken", AgeConfirmed: "minimumleeftijd bevestigd"},
		method: map[Method]string{OnScreen: "op het scherm van de host", Remote: "op uw eigen apparaat", VerbalAttested: "mondeling, bevestigd door de host"},
	},
	"de": {
		withdrawDefault: "Sagen Sie „Aufnahme stoppen“ oder drücken Sie Widerrufen auf dem Bildschirm des Gastgebers; die Aufnahme endet sofort. Schreiben Sie danach an den obigen Kontakt.",
		title:           "Einwilligungsbeleg", intro: "Dieser Beleg zeigt, worin Sie bei einer Gesprächsaufnahme eingewilligt haben und was geschah.",
		controller: "Verantwortliche Organisation", recording: "Aufnahme", record: "Einwilligungsnachweis",
		notice: "Angezeigter Hinweis", purposes: "Zwecke", retention: "Aufbewahrt für", months: "Monate",
		jurisdiction: "Rechtsraum", history: "Was geschah (UTC)", recorded: "Aufgenommen während Ihrer Anwesenheit",
		nothingRecorded: "Während Ihrer Anwesenheit wurde nichts aufgenommen.",
		withdraw:        "So widerrufen Sie", rights: "Ihre Rechte: Auskunft, Berichtigung, Löschung, Einschränkung, Datenübertragbarkeit, Widerspruch, Widerruf und Beschwerde bei einer Aufsichtsbehörde.",
		contact: "Kontakt", minutes: "Min.",
		events: map[EventType]string{ParticipantAdded: "zum Gespräch hinzugefügt", ParticipantJoined: "wieder beigetreten", ParticipantLeft: "gegangen",
			ConsentRequested: "Hinweis angezeigt", ConsentGiven: "Einwilligung erteilt", ConsentRefused: "Einwilligung verweigert",
			ConsentWithdrawn: "Einwilligung widerrufen", AgeConfirmed: "Mindestalter bestätigt"},
		method: map[Method]string{OnScreen: "auf dem Bildschirm des Gastgebers", Remote: "auf Ihrem eigenen Gerät", VerbalAttested: "mündlich, vom Gastgeber bestätigt"},
	},
	"fr": {
		withdrawDefault: "Dites « arrêtez l'enregistrement » ou appuyez sur Retirer sur l'écran de l'hôte ; l'enregistrement s'arrête aussitôt. Ensuite, écrivez au contact ci-dessus.",
		title:           "Reçu de consentement", intro: "Ce reçu indique ce que vous avez accepté pour l'enregistrement d'un appel et ce qui s'est passé.",
		controller: "Organisation responsable", recording: "Enregistrement", record: "Registre de consentement",
		notice: "Avis présenté", purposes: "Finalités", retention: "Conservé pendant", months: "mois",
		jurisdiction: "Juridiction", history: "Ce qui s'est passé (UTC)", recorded: "Enregistré pendant votre présence",
		nothingRecorded: "Rien n'a été enregistré pendant votre présence.",
		withdraw:        "Comment retirer votre consentement", rights: "Vos droits : accès, rectification, effacement, limitation, portabilité, opposition, retrait, et réclamation auprès d'une autorité de contrôle.",
		contact: "Contact", minutes: "min",
		events: map[EventType]string{ParticipantAdded: "ajouté à l'appel", ParticipantJoined: "revenu", ParticipantLeft: "parti",
			ConsentRequested: "avis présenté", ConsentGiven: "consentement donné", ConsentRefused: "consentement refusé",
			ConsentWithdrawn: "consentement retiré", AgeConfirmed: "âge minimum confirmé"},
		method: map[Method]string{OnScreen: "sur l'écran de l'hôte", Remote: "sur votre propre appareil", VerbalAttested: "oralement, attesté par l'hôte"},
	},
}

// ReceiptLangs lists the languages receipts are written in.
func ReceiptLangs() []string { return []string{"de", "en", "fr", "nl"} }

// Receipt writes a plain-text consent receipt for one participant of r, in
// the participant's language (English if receipts do not exist in it). It
// replays the record, so an illegal record gives an error; it does not
// check the signature (use Verify first for records from outside).
func Receipt(r *Record, participantID string) (string, error) {
	if r == nil {
		return "", &FieldError{Path: "/", Msg: "no record", Err: ErrMalformed}
	}
	spans, err := Spans(r)
	if err != nil {
		return "", err
	}
	var who *Principal
	for i := range r.Events {
		if e := r.Events[i]; e.Type == ParticipantAdded && e.Participant == participantID {
			who = e.Principal
		}
	}
	if who == nil {
		return "", fmt.Errorf("%w: participant %q is not in record %s", ErrTransition, participantID, r.RecordID)
	}
	tx, ok := receiptTexts[who.Lang]
	if !ok {
		tx = receiptTexts["en"]
	}
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "%-31s %s\n", k+":", v) }
	fmt.Fprintf(&b, "%s — %s\n%s\n\n", tx.title, who.Name, tx.intro)
	line(tx.controller, r.Controller.Name)
	line(tx.contact, r.Controller.Contact)
	line(tx.recording, r.RecordingID)
	line(tx.record, r.RecordID)
	line(tx.purposes, strings.Join(r.Purposes, ", "))
	line(tx.retention, fmt.Sprintf("%d %s", r.RetentionMonths, tx.months))
	line(tx.jurisdiction, r.Jurisdiction)
	var accepted *NoticeRef
	for _, e := range r.Events {
		if e.Participant == participantID && e.Type == ConsentGiven && e.Notice != nil {
			accepted = e.Notice
		}
	}
	if accepted != nil {
		line(tx.notice, fmt.Sprintf("%s v%s (%s), SHA-256 %s", accepted.ID, accepted.Version, accepted.Lang, accepted.SHA256))
	}
	fmt.Fprintf(&b, "\n%s:\n", tx.history)
	for _, e := range r.Events {
		if e.Participant != participantID {
			continue
		}
		what, ok := tx.events[e.Type]
		if !ok {
			continue
		}
		if m, ok := tx.method[e.Method]; ok {
			what += " (" + m + ")"
		}
		t, _ := parseTime(e.Time)
		fmt.Fprintf(&b, "  %s UTC  %s\n", FormatDate(t, who.Lang, true), what)
	}
	var mine []Span
	for _, s := range spans {
		for _, p := range s.Participants {
			if p.ID == participantID {
				mine = append(mine, s)
			}
		}
	}
	fmt.Fprintln(&b)
	if len(mine) == 0 {
		fmt.Fprintln(&b, tx.nothingRecorded)
	} else {
		fmt.Fprintf(&b, "%s:\n", tx.recorded)
		for _, s := range mine {
			fmt.Fprintf(&b, "  %s – %s\n", offsetClock(s.From), offsetClock(s.To))
		}
	}
	how := r.WithdrawalMethod
	if how == DefaultWithdrawalMethod {
		how = tx.withdrawDefault // the default, said in the participant's language
	}
	fmt.Fprintf(&b, "\n%s: %s\n\n%s\n", tx.withdraw, how, tx.rights)
	return b.String(), nil
}

// offsetClock formats a stream offset (48 kHz frames) as h:mm:ss.
func offsetClock(frames int64) string {
	d := time.Duration(frames) * time.Second / 48000
	return fmt.Sprintf("%d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
}
