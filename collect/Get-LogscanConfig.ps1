<#
.SYNOPSIS
    Collects the receive connector configuration for logscan. Read-only.

.DESCRIPTION
    Run in the Exchange Management Shell of Exchange 2010, 2013, 2016 or 2019
    (PowerShell 2.0 and later). It calls only Get-* cmdlets and read-only WMI
    queries; nothing is changed. It writes ONE file of JSON in the shape
    "logscan-exchange-config", schema_version 1, described in logscan's
    README: every value is a plain string (IP ranges and bindings by their
    ToString()), so PowerShell's serialisation never reaches logscan.

    Collected: every receive connector (identity, server, transport role,
    bindings, RemoteIPRanges, permission groups, auth mechanisms, enabled,
    protocol logging level, FQDN) with the SMTP extended rights on it
    (Get-ADPermission); the Exchange servers with their addresses, subnets
    and default gateways (WMI, else DNS); accepted domains; send connectors.
    What fails is listed under "errors" in the file and the rest is kept.

.PARAMETER Path
    The file to write (default: logscan-config.json here).
.PARAMETER LoadBalancer
    Addresses load balancers present clients from (their SNAT addresses).
.PARAMETER Nat
    Addresses firewalls or other NAT devices present clients from.
.PARAMETER InternalNetwork
    The organisation's own networks, as CIDR ranges (10.0.0.0/8).
.PARAMETER NoWmi
    Do not query the servers over WMI: addresses from DNS, no gateways.

.EXAMPLE
    .\Get-LogscanConfig.ps1 -Path C:\temp\contoso-config.json -LoadBalancer 10.20.0.5 -InternalNetwork 10.0.0.0/8
#>
[CmdletBinding()]
param(
    [string]$Path = 'logscan-config.json',
    [string[]]$LoadBalancer = @(),
    [string[]]$Nat = @(),
    [string[]]$InternalNetwork = @(),
    [switch]$NoWmi
)

$errors = New-Object System.Collections.ArrayList
function O { New-Object System.Collections.Specialized.OrderedDictionary }
function S($v) { if ($null -eq $v) { '' } else { $v.ToString() } }
# L: a list of the items' ToString(), never unrolled into a scalar.
function L($v) { $a = @(); foreach ($x in @($v)) { if ($null -ne $x -and (S $x) -ne '') { $a += (S $x) } }; , $a }

# J: JSON of strings, lists and ordered dictionaries (ConvertTo-Json does
# not exist in PowerShell 2.0, and its depth limit mangles nested values).
function J($v) {
    if ($null -eq $v) { return 'null' }
    if ($v -is [System.Collections.IDictionary]) {
        $p = @(); foreach ($k in $v.Keys) { $p += ((J ([string]$k)) + ': ' + (J $v[$k])) }
        return '{' + ($p -join ', ') + '}'
    }
    if ($v -is [System.Array] -or $v -is [System.Collections.ArrayList]) {
        $p = @(); foreach ($x in $v) { $p += (J $x) }
        return '[' + ($p -join ', ') + ']'
    }
    $b = New-Object System.Text.StringBuilder
    [void]$b.Append('"')
    foreach ($c in ([string]$v).ToCharArray()) {
        $n = [int]$c
        if ($n -eq 34) { [void]$b.Append('\"') }
        elseif ($n -eq 92) { [void]$b.Append('\\') }
        elseif ($n -lt 32) { [void]$b.Append(('\u{0:x4}' -f $n)) }
        else { [void]$b.Append($c) }
    }
    [void]$b.Append('"')
    $b.ToString()
}
function Fail($what, $err) { [void]$errors.Add($what + ': ' + $err.Exception.Message) }

$root = O
$root['schema'] = 'logscan-exchange-config'
$root['schema_version'] = '1'
$root['collected_at'] = (Get-Date).ToUniversalTime().ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss'Z'", [Globalization.CultureInfo]::InvariantCulture)
$root['collector'] = 'Get-LogscanConfig.ps1 1'
try { $root['organization'] = S (Get-OrganizationConfig).Name } catch { Fail 'Get-OrganizationConfig' $_ }

$servers = @()
try {
    foreach ($s in @(Get-ExchangeServer)) {
        $o = O
        $o['name'] = S $s.Name
        $o['fqdn'] = S $s.Fqdn
        $o['version'] = S $s.AdminDisplayVersion
        $o['roles'] = L ((S $s.ServerRole) -split ',\s*')
        $addr = @(); $gw = @(); $net = @()
        if (-not $NoWmi) {
            try {
                foreach ($n in @(Get-WmiObject Win32_NetworkAdapterConfiguration -ComputerName (S $s.Fqdn) -Filter 'IPEnabled=True' -ErrorAction Stop)) {
                    $ips = @($n.IPAddress); $masks = @($n.IPSubnet)
                    for ($i = 0; $i -lt $ips.Count; $i++) {
                        $addr += $ips[$i]
                        # Exchange's own range syntax, address(mask); logscan reads it.
                        if ($ips[$i] -notmatch ':' -and $masks[$i]) { $net += ($ips[$i] + '(' + $masks[$i] + ')') }
                    }
                    $gw += @($n.DefaultIPGateway | Where-Object { $_ })
                }
            } catch { Fail ('WMI on ' + $s.Name + ' (addresses from DNS, gateways unknown)') $_ }
        }
        if ($addr.Count -eq 0) {
            try { $addr = @([System.Net.Dns]::GetHostAddresses((S $s.Fqdn)) | ForEach-Object { $_.IPAddressToString }) } catch { Fail ('DNS for ' + $s.Fqdn) $_ }
        }
        $o['addresses'] = L $addr
        $o['gateways'] = L $gw
        $o['subnets'] = L $net
        $servers += $o
    }
} catch { Fail 'Get-ExchangeServer' $_ }
$root['exchange_servers'] = $servers

$domains = @()
try { foreach ($d in @(Get-AcceptedDomain)) { $o = O; $o['domain'] = S $d.DomainName; $o['type'] = S $d.DomainType; $domains += $o } } catch { Fail 'Get-AcceptedDomain' $_ }
$root['accepted_domains'] = $domains

$connectors = @()
try {
    foreach ($c in @(Get-ReceiveConnector)) {
        $o = O
        $o['identity'] = S $c.Identity
        $o['name'] = S $c.Name
        $o['server'] = S $c.Server
        $o['transport_role'] = S $c.TransportRole
        $o['enabled'] = S $c.Enabled
        $o['bindings'] = L $c.Bindings
        $o['remote_ip_ranges'] = L $c.RemoteIPRanges
        $o['permission_groups'] = S $c.PermissionGroups
        $o['auth_mechanism'] = S $c.AuthMechanism
        $o['protocol_logging_level'] = S $c.ProtocolLoggingLevel
        $o['fqdn'] = S $c.Fqdn
        try {
            $perms = @()
            foreach ($p in @(Get-ADPermission -Identity (S $c.DistinguishedName) | Where-Object { $_.ExtendedRights })) {
                $rights = @(L $p.ExtendedRights | Where-Object { $_ -like 'ms-Exch-*' })
                if ($rights.Count -eq 0) { continue }
                $e = O
                $e['user'] = S $p.User
                $e['extended_rights'] = $rights
                $e['deny'] = S $p.Deny
                $e['inherited'] = S $p.IsInherited
                $perms += $e
            }
            $o['permissions'] = $perms
        } catch { Fail ('Get-ADPermission ' + $c.Identity) $_ }
        $connectors += $o
    }
} catch { Fail 'Get-ReceiveConnector' $_ }
$root['receive_connectors'] = $connectors

$send = @()
try {
    foreach ($c in @(Get-SendConnector)) {
        $o = O
        $o['identity'] = S $c.Identity
        $o['address_spaces'] = L $c.AddressSpaces
        $o['smart_hosts'] = L $c.SmartHosts
        $o['source_transport_servers'] = L $c.SourceTransportServers
        $o['enabled'] = S $c.Enabled
        $send += $o
    }
} catch { Fail 'Get-SendConnector' $_ }
$root['send_connectors'] = $send

$devices = @()
foreach ($a in $LoadBalancer) { $o = O; $o['kind'] = 'load-balancer'; $o['address'] = $a; $o['name'] = 'given with -LoadBalancer'; $devices += $o }
foreach ($a in $Nat) { $o = O; $o['kind'] = 'nat'; $o['address'] = $a; $o['name'] = 'given with -Nat'; $devices += $o }
$root['devices'] = $devices
$root['internal_networks'] = L $InternalNetwork
$root['errors'] = L $errors

$file = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path)
[System.IO.File]::WriteAllText($file, (J $root), (New-Object System.Text.UTF8Encoding $false))
Write-Host ('Wrote ' + $file + ': ' + $connectors.Count + ' receive connectors, ' + $servers.Count + ' servers, ' + $errors.Count + ' errors')
