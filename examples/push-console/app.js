// The push console: devices and registrations of a user, test pushes with the vendor's answer,
// and the per-device decision trace of a message. Talks only to this server's admin API.
const $ = (id) => document.getElementById(id);
$('admin-secret').value = sessionStorage.getItem('console:admin') ?? '';
$('admin-secret').addEventListener('change', () => sessionStorage.setItem('console:admin', $('admin-secret').value));

async function admin(path, init = {}) {
  const response = await fetch(path, {
    ...init, headers: { authorization: `Bearer ${$('admin-secret').value}`, 'content-type': 'application/json' },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error ?? `HTTP ${response.status}`);
  return body;
}

function row(cells) {
  const tr = document.createElement('tr');
  for (const cell of cells) {
    const td = document.createElement('td');
    if (cell instanceof Node) td.append(cell);
    else td.textContent = cell ?? '';
    tr.append(td);
  }
  return tr;
}

const time = (ms) => (ms ? new Date(ms).toLocaleTimeString() : '');

async function lookup(event) {
  event?.preventDefault();
  $('lookup-error').textContent = '';
  try {
    const user = $('user').value.trim();
    const { sessions, registrations } = await admin(`/admin/devices?user=${encodeURIComponent(user)}`);
    $('sessions').replaceChildren(...sessions.map((s) => row([s.deviceId, s.platform, s.mode, `${s.ackedSeq} / ${s.deliveredSeq}`, time(s.connectedAt)])));
    $('registrations').replaceChildren(...registrations.map((r) => {
      const button = document.createElement('button');
      button.className = 'secondary';
      button.textContent = 'Test push';
      button.onclick = () => void testPush({ pushId: r.pushId });
      return row([r.deviceId, r.provider, `${r.credential}${r.environment ? ` (${r.environment})` : ''}`, r.pushId, r.online ? 'online' : 'offline', button]);
    }));
    if (sessions.length === 0 && registrations.length === 0) $('lookup-error').textContent = 'no online session and no active registration';
  } catch (error) {
    $('lookup-error').textContent = error.message;
  }
}

async function testPush(target) {
  $('test-results').replaceChildren(row(['…']));
  try {
    const { results } = await admin('/admin/push/test', {
      method: 'POST', body: JSON.stringify({ ...target, title: $('test-title').value, body: $('test-body').value }),
    });
    $('test-results').replaceChildren(...results.map((r) => row([r.deviceId, `${r.provider} / ${r.credential}`, r.outcome.status,
      r.outcome.vendorId ?? r.outcome.reason ?? ''])));
  } catch (error) {
    $('test-results').replaceChildren(row(['', '', 'error', error.message]));
  }
}

async function trace(event) {
  event.preventDefault();
  $('trace-error').textContent = '';
  try {
    const explained = await admin(`/admin/trace?message=${encodeURIComponent($('message-id').value.trim())}`);
    $('trace-summary').textContent = `${explained.sender} → ${explained.conversation}, event ${explained.eventId}, ${new Date(explained.at).toLocaleString()}`;
    $('trace').replaceChildren(...explained.recipients.flatMap((recipient) => recipient.devices.map((device) => {
      const steps = document.createElement('ul');
      steps.className = 'plain';
      for (const step of device.steps) {
        const li = document.createElement('li');
        li.textContent = `${time(step.at)} ${step.decision}:${step.reason}${step.detail ? ` (${step.detail})` : ''}`;
        steps.append(li);
      }
      const tr = row([recipient.userId, device.deviceId ?? '—', device.outcome, steps]);
      tr.dataset.outcome = device.outcome;
      return tr;
    })));
  } catch (error) {
    $('trace-error').textContent = error.message;
  }
}

$('lookup').addEventListener('submit', (e) => void lookup(e));
$('test-user').addEventListener('click', () => void testPush({ userId: $('user').value.trim() }));
$('trace-form').addEventListener('submit', (e) => void trace(e));
const params = new URLSearchParams(location.search);
if (params.get('user')) {
  $('user').value = params.get('user');
  void lookup();
}
if (params.get('message')) $('message-id').value = params.get('message');
