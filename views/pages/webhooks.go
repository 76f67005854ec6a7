package pages

import "till/models"

// webhookFormat names an endpoint's dialect as the dashboard shows it.
func webhookFormat(dialect string) string {
	if dialect == models.DialectKiraPay {
		return "KiraPay"
	}
	return "KasPay"
}

// secretHelp is the help of the secret field: empty generates one on
// create, keeps the current one on edit.
func secretHelp(id string) string {
	if id == "" {
		return "16 to 256 characters. Leave empty to have Till generate one."
	}
	return "16 to 256 characters. Leave empty to keep the current one."
}
