// Package exconfig reads an Exchange organisation's receive connector
// configuration — logscan's collector JSON, or what admins already have from
// ConvertTo-Json, Export-Clixml and Export-Csv — and simulates which
// connector Exchange hands each connection to.
package exconfig
