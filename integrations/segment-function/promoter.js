// Promoter: a Segment Destination Function that sends identify, track and delete
// events to a self-hosted Promoter (its /segment endpoint).
//
// Settings (Settings tab of the function editor):
//   apiKey        (string, required, secret)  a Promoter API key: `promoter key create ORG_ID`
//   host          (string, required)          Promoter's address, e.g. https://nps.example.com
//   sharedSecret  (string, optional, secret)  the organization's webhook secret, when one is
//                                             set (`promoter org secret ORG_ID ...`): each
//                                             request is then signed with X-Signature
//
// Promoter answers 200 once the event is committed (a repeated messageId is a duplicate,
// answered 200 too). 5xx, 429 and network failures throw RetryError: Segment retries the
// event. A refused key (401/403) throws ValidationError, an invalid event (400)
// InvalidEventPayload: Segment discards the event and shows the reason in Event Delivery.
// page, screen, group and alias have no handler: Segment reports them as EventNotSupported.

async function onIdentify(event, settings) {
  return sendToPromoter(event, settings)
}

async function onTrack(event, settings) {
  return sendToPromoter(event, settings)
}

// Segment's privacy deletion: Promoter erases the contact and everything kept about it.
async function onDelete(event, settings) {
  return sendToPromoter(event, settings)
}

async function sendToPromoter(event, settings) {
  const apiKey = (settings.apiKey || '').trim()
  let host = (settings.host || '').trim().replace(/\/+$/, '')
  if (!apiKey || !host) {
    throw new ValidationError('Set the apiKey and host settings of the Promoter function')
  }
  if (!/^https?:\/\//i.test(host)) {
    host = `https://${host}`
  }
  const body = JSON.stringify(event)
  const headers = {
    Authorization: `Basic ${btoa(`${apiKey}:`)}`,
    'Content-Type': 'application/json',
    'User-Agent': 'promoter-segment-function/1'
  }
  if (settings.sharedSecret) {
    headers['X-Signature'] = crypto.createHmac('sha1', settings.sharedSecret).update(body, 'utf8').digest('hex')
  }
  let response
  try {
    response = await fetch(`${host}/segment`, { method: 'POST', headers, body })
  } catch (error) {
    throw new RetryError(`Promoter could not be reached: ${error.message}`)
  }
  if (response.ok) {
    return response.json().catch(() => ({}))
  }
  const reason = await promoterReason(response)
  if (response.status === 501) {
    throw new EventNotSupported(`Promoter does not use this event: ${reason}`)
  }
  if (response.status >= 500 || response.status === 429) {
    throw new RetryError(`Promoter answered ${response.status}: ${reason}`)
  }
  if (response.status === 400) {
    throw new InvalidEventPayload(`Promoter refused the event: ${reason}`)
  }
  throw new ValidationError(`Promoter answered ${response.status}: ${reason}`)
}

async function promoterReason(response) {
  const text = await response.text().catch(() => '')
  try {
    const parsed = JSON.parse(text)
    if (parsed && typeof parsed.message === 'string') {
      return parsed.message
    }
  } catch (error) {
    // not JSON: the text itself is the reason
  }
  return text.slice(0, 200) || response.statusText
}
